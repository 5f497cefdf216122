"""``AgentMemoryRetriever``: LlamaIndex RAG over agent memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from .._models import MemoryBlock
from ..errors import ConfigurationError, NotFoundError
from ..turn import best_blocks
from ..validation import (
    MAX_RELEVANT_K,
    check_id,
    check_int,
    check_optional_id,
    check_text,
    check_threshold,
    typed_validation,
)
from ._chat_log import ChatLog
from ._checks import Scope, check_filters, check_scope
from ._connection import AnyClient, MemoryLocation, run_sync, source_fields
from ._messages import is_tool_plumbing
from ._recall import search_blocks

# Metadata the LLM sees with each memory; the rest is for filtering and debugging only.
_LLM_VISIBLE = ("role", "created_at")


def block_to_node(block: MemoryBlock) -> NodeWithScore:
    """A ``NodeWithScore`` for a recalled block (score = fused relevance)."""
    metadata: dict[str, Any] = {
        "block_id": block.block_id,
        "session_id": block.session_id,
        "kind": block.kind,
        "created_at": None if block.created_at is None else block.created_at.isoformat(),
        "similarity": block.similarity,
        "annotations": dict(block.annotations),
    }
    if block.message is not None and block.message.role is not None:
        metadata["role"] = block.message.role.value
    hidden = [key for key in metadata if key not in _LLM_VISIBLE]
    node = TextNode(
        id_=block.block_id,
        text=block.text,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
    )
    return NodeWithScore(node=node, score=block.rel_score)


class AgentMemoryRetriever(BaseRetriever):
    """Retrieve a user's memories as ``NodeWithScore`` (hybrid vector + keyword search).

    ``scope`` is ``"all"`` sessions of ``user_id`` (default), ``"session"`` (needs
    ``session_id``) or a list of session ids; ``k`` results at most, above ``threshold``
    cosine similarity, narrowed by ``filters`` (the engine's search filters: annotations,
    kind, role, metadata_contains, time ranges, ...). Pass an open ``client``, or ``path`` /
    ``url`` / ``embedder`` to open the store on first use. Use it in
    ``RetrieverQueryEngine``, ``ContextChatEngine`` / ``CondensePlusContextChatEngine`` or
    as a ``RetrieverTool``.
    """

    def __init__(
        self,
        source: object = None,
        /,
        *,
        client: AnyClient | None = None,
        user_id: str | None = None,
        path: str | None = None,
        url: str | None = None,
        embedder: str | None = None,
        session_id: str | None = None,
        scope: Scope = "all",
        k: int = 5,
        threshold: float | None = None,
        filters: Mapping[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        with typed_validation("AgentMemoryRetriever"):
            fields: dict[str, Any] = {"user_id": user_id, "session_id": session_id}
            client = cast("AnyClient | None", source_fields(source, client, fields))
            user_id = check_id(fields["user_id"], "user_id")
            session_id = check_optional_id(fields["session_id"], "session_id")
            checked_scope = check_scope(scope)
            if checked_scope == "session" and session_id is None:
                raise ConfigurationError(
                    'scope="session" needs a session_id: pass session_id=..., or use '
                    'scope="all" (every session of the user) or a list of session ids'
                )
            self.k = check_int(k, "k", 1, MAX_RELEVANT_K)
            self.threshold = check_threshold(threshold)
            self.filters = check_filters(filters)
            self.location = MemoryLocation(
                client=client,
                user_id=user_id,
                path=fields.get("path", path),
                url=fields.get("url", url),
                embedder=embedder,
            )
        self.session_id = session_id
        self.scope: Scope = checked_scope
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def user_id(self) -> str:
        return self.location.user_id

    def search_filters(self) -> dict[str, Any]:
        """The engine filters one retrieval uses."""
        filters: dict[str, Any] = {"relevant_k": self.k}
        if self.scope != "session":
            filters["session_ids"] = self.scope
        if self.threshold is not None:
            filters["threshold"] = self.threshold
        filters.update(self.filters)
        return filters

    def search(self, query: str) -> list[MemoryBlock]:
        """The blocks one retrieval returns, best first.

        An agent's tool traffic is skipped unless ``filters`` asks for a ``role``.
        """
        if not check_text(query, "query", allow_empty=True).strip():
            return []
        log = ChatLog(self.location.client, self.user_id)
        filters = self.search_filters()

        within = self.session_id if self.scope == "session" else None

        def search(n: int) -> list[MemoryBlock]:
            return search_blocks(log, query, {**filters, "relevant_k": n}, within)

        def keep(block: MemoryBlock) -> bool:
            return "role" in self.filters or not is_tool_plumbing(block)

        try:
            return best_blocks(search, self.k, keep)
        except NotFoundError:  # the user has no memory yet
            return []

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [block_to_node(block) for block in self.search(query_bundle.query_str)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await run_sync(self._retrieve, query_bundle)
