"""Public data models: what the client returns and accepts.

Field names follow the Couchbase Agent Memory SDK (``block_ids``, ``memory_blocks``,
``rel_score``, ``count``/``total``), with the SAP additions (message roles, similarity
threshold, retention policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_Item = TypeVar("_Item")


class _Page(BaseModel, Generic[_Item]):
    """A response whose iteration, ``len`` and indexing go over its list field ``_items``."""

    _items: ClassVar[str]

    def __iter__(self) -> Iterator[_Item]:  # type: ignore[override]
        return iter(getattr(self, self._items))

    def __len__(self) -> int:
        return len(getattr(self, self._items))

    def __getitem__(self, index: int) -> _Item:
        item: _Item = getattr(self, self._items)[index]
        return item


class MessageRole(StrEnum):
    """Author of a single role-tagged chat message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class MemoryBlockStatus(StrEnum):
    """Processing state of a block: searchable only when ``ready``."""

    PROCESSING = "processing"
    READY = "ready"
    EXTRACTION_FAILED = "extraction_failed"


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class ChatMessage(BaseModel):
    """A chat message block.

    Two forms:

    * an exchange, as in the Couchbase SDK: ``ChatMessage(user_content=..., assistant_content=...)``
      (both stripped; at least one must be non-empty);
    * a single role-tagged message, for SAP and framework chat histories:
      ``ChatMessage(role="tool", content=..., name=None)`` (content kept verbatim).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_content: str = ""
    assistant_content: str = ""
    role: MessageRole | None = None
    content: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _check_form(self) -> ChatMessage:
        if self.role is None:
            if self.content is not None or self.name is not None:
                raise ValueError(
                    "content/name belong to a role-tagged message: pass role= too "
                    "(user, assistant, system or tool), or use user_content/assistant_content"
                )
            user, assistant = self.user_content.strip(), self.assistant_content.strip()
            if not user and not assistant:
                raise ValueError(
                    "a ChatMessage needs a non-empty user_content or assistant_content"
                )
            object.__setattr__(self, "user_content", user)
            object.__setattr__(self, "assistant_content", assistant)
        else:
            if self.user_content or self.assistant_content:
                raise ValueError(
                    "a role-tagged ChatMessage carries its text in content=, not in "
                    "user_content/assistant_content"
                )
            if self.content is None:
                object.__setattr__(self, "content", "")
        return self

    @property
    def text(self) -> str:
        """The text that is embedded and keyword-indexed for this message."""
        if self.role is not None:
            body = self.content or ""
            return f"{self.name}: {body}" if self.name else body
        return "\n".join(part for part in (self.user_content, self.assistant_content) if part)


class MemoryBlock(BaseModel):
    """One stored memory: exactly one of ``fact`` or ``message``."""

    block_id: str
    user_id: str
    session_id: str
    message: ChatMessage | None = None
    fact: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    agent_id: str | None = None
    created_at: datetime | None = None
    ingested_at: datetime
    updated_at: datetime | None = None
    last_queued_at: datetime | None = None
    expires_at: datetime | None = None
    status: MemoryBlockStatus = MemoryBlockStatus.READY
    fail_count: int = 0
    rel_score: float | None = None
    similarity: float | None = None
    summary: str | None = None
    contexts: list[str] | None = None
    prompt_id: str | None = None  # the extraction prompt (None: the base prompt)
    prompt_vid: int | None = None
    source_block_id: str | None = None  # the message a managed fact was extracted from

    @property
    def kind(self) -> Literal["fact", "message"]:
        return "fact" if self.fact is not None else "message"

    @property
    def text(self) -> str:
        """The searchable text of the block."""
        if self.fact is not None:
            return self.fact
        assert self.message is not None
        return self.message.text


class AddMemoryResponse(BaseModel):
    message: str
    accepted_count: int
    block_ids: list[str]
    rejected_count: int = 0
    rejected_details: list[dict[str, Any]] = Field(default_factory=list)


class UpdateMemoryResponse(BaseModel):
    message: str
    block: MemoryBlock | None = None


class MemoryList(_Page[MemoryBlock]):
    """Search results: ranked by relevance when a query was given.

    Iterating it (and ``len``, indexing) goes over ``memory_blocks``.
    """

    memory_blocks: list[MemoryBlock]
    count: int

    _items: ClassVar[str] = "memory_blocks"


class ListMemoriesResponse(_Page[MemoryBlock]):
    """One page of ``list_memories``; ``total`` counts every matching block.

    Iterating it (and ``len``, indexing) goes over the page's ``memory_blocks``.
    """

    memory_blocks: list[MemoryBlock]
    count: int
    total: int
    limit: int
    offset: int

    _items: ClassVar[str] = "memory_blocks"

    @property
    def has_more(self) -> bool:
        return self.offset + self.count < self.total


class DeleteMemoryResponse(BaseModel):
    deleted_count: int
    failed_count: int = 0
    failed_block_ids: list[str] = Field(default_factory=list)


class User(BaseModel):
    """A user. ``user_id`` is the same as ``id`` (the name the handles use)."""

    id: str
    name: str
    sessions: list[str] | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None

    @property
    def user_id(self) -> str:
        return self.id


class UserList(_Page[User]):
    """One page of users; iterating it (and ``len``, indexing) goes over ``users``."""

    users: list[User]
    count: int
    total: int | None = None
    limit: int | None = None
    offset: int | None = None

    _items: ClassVar[str] = "users"


class Session(BaseModel):
    user_id: str
    session_id: str
    start_time: datetime
    end_time: datetime | None = None
    annotations: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    blocks_ttl: int | None = None


class SessionList(_Page[Session]):
    """One page of sessions; iterating it (and ``len``, indexing) goes over ``sessions``."""

    sessions: list[Session]
    count: int
    total: int | None = None
    limit: int | None = None
    offset: int | None = None

    _items: ClassVar[str] = "sessions"


class FilterOptions(BaseModel):
    """Filters for ``search_memory`` (and counts).

    ``session_ids`` absent means the session the call is made on; ``"all"`` means every
    session of the user. ``threshold`` is a cosine-similarity lower bound for query
    searches. ``metadata_contains`` / ``content_contains`` are substring filters.
    ``descending`` / ``limit`` / ``offset`` page a search without a query (newest first
    with ``descending=True``); ranked searches are capped by ``relevant_k`` instead.
    """

    model_config = ConfigDict(extra="forbid")

    session_ids: list[str] | Literal["all"] | None = None
    block_ids: list[str] | None = None
    relevant_k: int = 10
    threshold: float | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    created_start_time: datetime | None = None
    created_end_time: datetime | None = None
    annotations: dict[str, str] | None = None
    annotation_filter_mode: Literal["pre", "post"] = "pre"
    order_by: Literal["ingested_at", "created_at"] = "ingested_at"
    descending: bool = False
    limit: int | None = None
    offset: int = 0
    metadata_contains: str | None = None
    content_contains: str | None = None
    agent_id: str | None = None
    kind: Literal["fact", "message"] | None = None
    role: MessageRole | None = None
    prompt_id: str | None = None
    prompt_vid: int | None = None

    @field_validator("relevant_k", "limit", "offset", "threshold", "prompt_vid", mode="before")
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a number is expected, not True or False")
        return value

    @field_validator("session_ids", mode="before")
    @classmethod
    def _normalise_all(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lower() == "all":
                return "all"
            return [value]
        if isinstance(value, list) and len(value) == 1 and value[0] == "ALL":
            return "all"
        return value


class RetentionConfig(BaseModel):
    """Retention policy applied by creation time (``None`` = keep forever)."""

    message_days: int | None = None
    memory_days: int | None = None
    updated_at: datetime | None = None


class HealthResponse(BaseModel):
    status: HealthStatus
    version: str
    uptime_seconds: float | None = None


class ComponentHealth(BaseModel):
    status: str
    model: str | None = None
    retry_after: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ModelsHealth(BaseModel):
    status: HealthStatus | None = None
    embedding: ComponentHealth
    llm: ComponentHealth


class QueueStats(BaseModel):
    size: int
    queued_ids: int
    processing: int
    max_size: int


class ProcessorHealth(BaseModel):
    status: str
    message: str | None = None
    queue: QueueStats | None = None
    statistics: dict[str, int] | None = None
    loop_running: bool | None = None
    dispatcher_alive: bool | None = None


class HealthPingResponse(BaseModel):
    server: HealthResponse
    storage: dict[str, Any]
    models: ModelsHealth
    async_batch_processor: ProcessorHealth
    overall_status: HealthStatus
    checked_entities: list[str] = Field(default_factory=list)


class Prompt(BaseModel):
    """An extraction prompt of the registry, at its current version."""

    prompt_id: str
    prompt: str
    description: str
    annotations: dict[str, str] | None = None
    current_vid: int
    version_count: int
    last_updated_at: datetime
    archived: bool = False


class PromptVersion(BaseModel):
    """One immutable version of a prompt."""

    prompt_id: str
    vid: int
    prompt: str
    updated_at: datetime
    archived: bool = False
    is_current: bool = False


class PromptList(_Page[Prompt]):
    """One page of prompts; iterating it goes over ``prompts``."""

    prompts: list[Prompt]
    count: int
    total: int
    limit: int
    offset: int

    _items: ClassVar[str] = "prompts"


class PromptVersionList(_Page[PromptVersion]):
    """One page of a prompt's versions; iterating it goes over ``versions``."""

    versions: list[PromptVersion]
    count: int
    total: int
    limit: int
    offset: int

    _items: ClassVar[str] = "versions"


class FactChange(BaseModel):
    """One change made to a user's facts by fact management: who, when, from which source."""

    block_id: str  # the fact block added, updated or deleted
    action: Literal["add", "update", "delete"]
    old_text: str | None = None
    new_text: str | None = None
    source_block_id: str | None = None  # the message (or added fact) that caused it
    actor: str  # the model that decided, or "engine" for a change made without one
    at: datetime
