"""Storage-neutral descriptions of block queries and rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BlockQuery:
    """Which blocks of one user a read may see. Times are epoch microseconds."""

    user_id: str
    now: int
    session_ids: list[str] | None = None  # None = every session of the user
    block_ids: list[str] | None = None
    statuses: list[str] | None = None
    ingested_from: int | None = None
    ingested_to: int | None = None
    created_from: int | None = None
    created_to: int | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    metadata_contains: str | None = None
    content_contains: str | None = None
    agent_id: str | None = None
    kind: str | None = None
    role: str | None = None

    @property
    def needs_sql(self) -> bool:
        """True when the filter goes beyond scope, status and expiry."""
        return bool(
            self.block_ids
            or self.ingested_from is not None
            or self.ingested_to is not None
            or self.created_from is not None
            or self.created_to is not None
            or self.annotations
            or self.metadata_contains
            or self.content_contains
            or self.agent_id is not None
            or self.kind is not None
            or self.role is not None
        )


@dataclass(frozen=True)
class TenantQuery:
    """Blocks of one kind across every user of a store (the SAP API's entity lists):
    ``equals`` and ``contains`` map column names to values."""

    kind: str
    now: int
    equals: dict[str, str] = field(default_factory=dict)
    contains: dict[str, str] = field(default_factory=dict)

    EQUALS = frozenset({"user_id", "agent_id", "block_id", "session_id", "role"})
    CONTAINS = frozenset({"text", "metadata"})


BLOCK_COLUMNS = (
    "seq, block_id, user_id, session_id, kind, fact, user_content, assistant_content, role, "
    "content, name, text, annotations, metadata, agent_id, created_at, ingested_at, updated_at, "
    "last_queued_at, expires_at, status, fail_count, summary, contexts, prompt_id, prompt_vid, "
    "context_required, manage_facts, source_block_id"
)


@dataclass
class BlockRow:
    """A block as stored (no embedding)."""

    seq: int
    block_id: str
    user_id: str
    session_id: str
    kind: str
    fact: str | None
    user_content: str | None
    assistant_content: str | None
    role: str | None
    content: str | None
    name: str | None
    text: str
    annotations: str
    metadata: str | None
    agent_id: str | None
    created_at: int | None
    ingested_at: int
    updated_at: int
    last_queued_at: int | None
    expires_at: int | None
    status: str
    fail_count: int
    summary: str | None = None
    contexts: str | None = None  # a JSON list
    prompt_id: str | None = None
    prompt_vid: int | None = None
    context_required: int | None = None
    manage_facts: int | None = None
    source_block_id: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> BlockRow:
        return cls(*row)
