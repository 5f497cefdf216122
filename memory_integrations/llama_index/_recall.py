"""Search options shared by the memory and the memory block, and the recall step itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from .._models import MemoryBlock
from ..errors import NotFoundError
from ..turn import DEFAULT_TEMPLATE, TurnConfig, best_blocks, render_memories
from ..validation import MAX_RELEVANT_K
from ._chat_log import ChatLog
from ._checks import Filters, Scope, Text, Threshold, check_scope, whole
from ._messages import block_fingerprint, is_tool_plumbing

_MAX_K = MAX_RELEVANT_K


class RecallOptions(BaseModel):
    """How relevant memories are searched and rendered (serialisable fields)."""

    k: Annotated[int, whole(1, _MAX_K)] = Field(
        default=5, ge=1, le=_MAX_K, description="Memories recalled per turn."
    )
    scope: Annotated[Scope, BeforeValidator(check_scope)] = Field(
        default="all",
        description="'all' sessions of the user, only this 'session', or a list of session ids.",
    )
    threshold: Threshold = Field(
        default=None, description="Minimum cosine similarity of a recalled memory."
    )
    template: Text = Field(
        default=DEFAULT_TEMPLATE, description="Text around the recalled memories ({memories})."
    )
    token_budget: Annotated[int, whole(1)] = Field(
        default=1000, ge=1, description="Token cap of the rendered text."
    )
    search_filters: Filters = Field(
        default_factory=dict,
        description="Extra search filters (annotations, kind, role, metadata_contains, ...).",
    )

    def search_config(self) -> TurnConfig:
        return TurnConfig(
            scope=self.scope,
            k=self.k,
            threshold=self.threshold,
            template=self.template,
            token_budget=self.token_budget,
        )

    def render(self, blocks: list[MemoryBlock]) -> str | None:
        return render_memories(blocks, template=self.template, token_budget=self.token_budget)


def search_blocks(
    log: ChatLog, query: str, filters: dict[str, Any], session_id: str | None = None
) -> list[MemoryBlock]:
    """Search the user's memory, or only ``session_id``'s (nothing if it does not exist)."""
    if session_id is None:
        return log.user.search_memory(query, filters).memory_blocks
    session = log.session(session_id, create=False)
    if session is None:
        return []
    return session.search_memory(query, filters).memory_blocks


def recall(
    log: ChatLog,
    session_id: str | None,
    query: str,
    options: RecallOptions,
    *,
    exclude: Callable[[MemoryBlock], bool] = lambda block: False,
    spare: int = 0,
) -> list[MemoryBlock]:
    """The ``options.k`` most relevant blocks for ``query``, best first.

    Skips blocks ``exclude`` names (the caller already shows them; ``spare`` is how many
    there may be) and tool plumbing (unless ``search_filters`` asks for a ``role``); the
    same message stored twice is returned once.
    """
    if not query.strip():
        return []
    filters = options.search_config().filters()
    filters.update(options.search_filters)

    if options.scope == "session" and session_id is None:
        return []
    within = session_id if options.scope == "session" else None
    plumbing_skipped = "role" not in options.search_filters
    seen: set[str] = set()

    def keep(block: MemoryBlock) -> bool:
        if exclude(block) or (plumbing_skipped and is_tool_plumbing(block)):
            return False
        key = block_fingerprint(block) or block.block_id
        if key in seen:
            return False
        seen.add(key)
        return True

    def search(n: int) -> list[MemoryBlock]:
        seen.clear()
        return search_blocks(log, query, {**filters, "relevant_k": n}, within)

    try:
        return best_blocks(search, options.k, keep, spare)
    except NotFoundError:  # no such user (or session) yet: nothing to recall
        return []
