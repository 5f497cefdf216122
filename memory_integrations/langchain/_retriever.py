"""``AgentMemoryRetriever``: LangChain retrieval over agent memory search."""

from __future__ import annotations

import functools
from typing import Any, Literal

import anyio.to_thread
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import ensure_config
from pydantic import ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator

from .._models import MemoryBlock, MessageRole
from ..client import UserResource
from ..errors import ValidationError
from ..turn import MemoryBinding, MemorySource, Scope, best_blocks, is_tool_message, one_source
from ..validation import MAX_RELEVANT_K, check_id, check_int, typed_validation
from ._messages import METADATA_KEY

_CALL_OPTIONS = frozenset(
    {
        "k",
        "scope",
        "threshold",
        "annotations",
        "metadata_contains",
        "kind",
        "role",
        "user_id",
        "session_id",
    }
)


def block_document(block: MemoryBlock) -> Document:
    """A ``Document`` for a block: its text, the block id as ``id``, details in metadata."""
    metadata: dict[str, Any] = {
        "block_id": block.block_id,
        "score": block.rel_score,
        "similarity": block.similarity,
        "kind": block.kind,
        "user_id": block.user_id,
        "session_id": block.session_id,
        "created_at": None if block.created_at is None else block.created_at.isoformat(),
        "ingested_at": block.ingested_at.isoformat(),
        "annotations": dict(block.annotations),
    }
    if block.message is not None:
        metadata["role"] = None if block.message.role is None else block.message.role.value
        if block.message.name:
            metadata["name"] = block.message.name
    if block.agent_id is not None:
        metadata["agent_id"] = block.agent_id
    extra = {k: v for k, v in (block.metadata or {}).items() if k != METADATA_KEY}
    if extra:
        metadata["metadata"] = extra
    return Document(page_content=block.text, metadata=metadata, id=block.block_id)


class AgentMemoryRetriever(BaseRetriever):
    """A LangChain retriever over a user's memory (hybrid vector + keyword search).

    ``AgentMemoryRetriever(client, user_id="alice", k=4)`` searches every session of the
    user; ``scope="session"`` (with a session handle or ``session_id=``) searches one
    conversation and a list of ids searches those. ``threshold`` (cosine similarity),
    ``annotations`` (exact match), ``metadata_contains`` (substring), ``kind`` (``"fact"``
    / ``"message"``) and ``role`` narrow the search. Each ``Document`` has the block id as
    ``id`` and ``score``, ``similarity``, ``kind``, ``session_id``, timestamps and
    ``annotations`` in its metadata. Any option can also be passed per call, e.g.
    ``retriever.invoke(query, k=2)``, as can ``user_id`` / ``session_id`` (otherwise read
    from the surrounding run's ``configurable``). Blocks without text (an AI message that
    only calls tools) are skipped.

    Args:
        source: a client (sync or async), a user or session handle, or where the memory
            lives (a SQLite path, ``postgresql://`` or ``http(s)://`` URL).
        user_id, session_id: fixed ids (else read per call from ``configurable``).
        scope: ``"all"`` sessions of the user, ``"session"``, or a list of session ids.
        k: how many documents (1-1000).
        threshold, annotations, metadata_contains, kind, role: search filters.

    Example:
        ```python
        from memory_integrations import AgentMemoryClient
        from memory_integrations.langchain import AgentMemoryRetriever

        with AgentMemoryClient("memory.sqlite3") as client:
            retriever = AgentMemoryRetriever(client, user_id="ana", k=4)
            documents = retriever.invoke("What does Ana eat?")
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: Any = Field(exclude=True)
    """A client or a user/session handle (sync or async)."""
    user_id: str | None = None
    session_id: str | None = None
    scope: Scope = "all"
    k: int = Field(default=4, ge=1, le=1000)
    threshold: float | None = None
    annotations: dict[str, str] | None = None
    metadata_contains: str | None = None
    kind: Literal["fact", "message"] | None = None
    role: MessageRole | None = None

    _binding: MemoryBinding = PrivateAttr()

    def __init__(self, source: MemorySource | None = None, /, **data: Any) -> None:
        client = data.pop("client", None)
        if source is not None or client is not None or "source" not in data:
            data["source"] = one_source(source, client, "AgentMemoryRetriever")
        with typed_validation("AgentMemoryRetriever"):
            super().__init__(**data)

    @field_validator("k", "threshold", mode="before")
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a number is expected, not True or False")
        return value

    @field_validator("user_id", "session_id", mode="before")
    @classmethod
    def _ids(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else check_id(value, str(info.field_name))

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._binding = MemoryBinding(self.source, user_id=self.user_id, session_id=self.session_id)
        if self.user_id is None:
            self.user_id = self._binding.user_id
        if self.session_id is None:
            self.session_id = self._binding.session_id

    def search(self, query: str, **options: Any) -> list[Document]:
        """Search memory; ``options`` override the retriever's fields for this call."""
        unknown = set(options) - _CALL_OPTIONS - {"verbose"}
        if unknown:
            raise ValidationError(
                f"unknown retriever option(s) {sorted(unknown)}; accepted: {sorted(_CALL_OPTIONS)}"
            )
        if not isinstance(query, str):
            raise ValidationError(f"the query must be a string, got {type(query).__name__}")
        if "k" in options:
            check_int(options["k"], "k", 1, MAX_RELEVANT_K)
        if not query.strip():
            return []
        configurable = dict(ensure_config().get("configurable") or {})
        for key in ("user_id", "session_id"):
            if options.get(key):
                configurable[key] = options[key]
        scope = options.get("scope", self.scope)
        filters: dict[str, Any] = {
            "relevant_k": options.get("k") or self.k,
            "session_ids": [self._binding.resolve_session_id(configurable)]
            if scope == "session"
            else scope,
        }
        for name in ("threshold", "annotations", "metadata_contains", "kind", "role"):
            value = options.get(name, getattr(self, name))
            if value is not None:
                filters[name] = value

        def run(user: UserResource) -> list[MemoryBlock]:
            def search(n: int) -> list[MemoryBlock]:
                return user.search_memory(query, {**filters, "relevant_k": n}).memory_blocks

            return best_blocks(search, filters["relevant_k"], keep)

        def keep(block: MemoryBlock) -> bool:
            # Blocks without text (an AI message that only calls tools) have nothing to read;
            # tool results are chat plumbing unless a role filter asks for them.
            return bool(block.text.strip()) and ("role" in filters or not is_tool_message(block))

        blocks: list[MemoryBlock] = self._binding.with_user(run, [], configurable, create=False)
        return [block_document(block) for block in blocks]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        if k is not None:
            kwargs["k"] = k
        return self.search(query, **kwargs)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        if k is not None:
            kwargs["k"] = k
        return await anyio.to_thread.run_sync(functools.partial(self.search, query, **kwargs))


__all__ = ["AgentMemoryRetriever", "block_document"]
