"""``AgentMemoryChatMessageHistory``: a LangChain chat history kept in agent memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio.to_thread
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

from .._models import MemoryBlock
from ..client import SessionResource
from ..errors import ValidationError
from ..turn import MemoryBinding, MemorySource, one_source
from ..validation import normalise_add
from ._messages import from_blocks, to_block_message

_PAGE = 200


class AgentMemoryChatMessageHistory(BaseChatMessageHistory):
    """The messages of one session, as a LangChain ``BaseChatMessageHistory``.

    Build it on a session handle, or on a client (or user handle) with ``user_id`` and
    ``session_id``; the user and session are created on the first write. Each message is
    one role-tagged message block whose text is searchable and whose metadata holds the
    exact serialised message, so every message type round-trips unchanged. Writes return
    without waiting for embedding (blocks are listed at once, searchable shortly after),
    so reads are consistent right after writes and writes stay fast.

    LangChain marks ``BaseChatMessageHistory`` as legacy; for new LangGraph agents prefer
    the ``AgentMemorySaver`` checkpointer from ``memory_integrations.langgraph``.

    Args:
        source: a client (sync or async), a user or session handle, or where the memory
            lives (a SQLite path, ``postgresql://`` or ``http(s)://`` URL).
        user_id: the user, when ``source`` is a client.
        session_id: the session, unless ``source`` is a session handle.
        annotations: tags every stored message carries.

    Example:
        ```python
        from memory_integrations import AgentMemoryClient
        from memory_integrations.langchain import AgentMemoryChatMessageHistory

        with AgentMemoryClient("memory.sqlite3") as client:
            history = AgentMemoryChatMessageHistory(client, user_id="ana", session_id="s1")
            history.add_user_message("I am vegetarian.")
            print(history.messages)
        ```
    """

    def __init__(
        self,
        source: MemorySource | None = None,
        *,
        client: MemorySource | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        source = one_source(source, client, "AgentMemoryChatMessageHistory")
        self.binding = MemoryBinding(source, user_id=user_id, session_id=session_id)
        if self.binding.user_id is None or self.binding.session_id is None:
            raise ValidationError(
                "AgentMemoryChatMessageHistory needs a session: pass a session handle, or "
                "a client with user_id= and session_id="
            )
        self.annotations = dict(annotations) if annotations else None

    @property
    def user_id(self) -> str:
        assert self.binding.user_id is not None
        return self.binding.user_id

    @property
    def session_id(self) -> str:
        assert self.binding.session_id is not None
        return self.binding.session_id

    def __repr__(self) -> str:
        return (
            f"AgentMemoryChatMessageHistory(user_id={self.user_id!r}, "
            f"session_id={self.session_id!r})"
        )

    # --- sync ---------------------------------------------------------------------------

    def _message_blocks(self, session: SessionResource) -> list[MemoryBlock]:
        blocks: list[MemoryBlock] = []
        offset = 0
        while True:
            page = session.list_memories(limit=_PAGE, offset=offset, order_by="ingested_at")
            blocks.extend(b for b in page.memory_blocks if b.message is not None)
            offset += page.count
            if page.count == 0 or not page.has_more:
                return blocks

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """Every message of the session, oldest first (empty for a new session)."""
        blocks: list[MemoryBlock] = self.binding.with_session(
            self._message_blocks, [], create=False
        )
        return from_blocks(blocks)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages (one block each, in order)."""
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise ValidationError(
                f"add_messages takes a list of LangChain messages, got {type(messages).__name__}"
            )
        if not messages:
            return
        for message in messages:
            if not isinstance(message, BaseMessage):
                raise ValidationError(
                    "each message must be a LangChain BaseMessage (HumanMessage, AIMessage, "
                    f"...), got {type(message).__name__}"
                )
        converted = [to_block_message(message) for message in messages]
        # Checked before the session is created, so a refused call writes nothing.
        normalise_add(
            messages=[block_message for block_message, _ in converted],
            metadata=[metadata for _, metadata in converted],
            annotations=self.annotations,
        )

        def write(session: SessionResource) -> None:
            # One call with per-message metadata: all of them are stored, or none.
            session.add_memory(
                messages=[block_message for block_message, _ in converted],
                metadata=[metadata for _, metadata in converted],
                annotations=self.annotations,
                async_processing=True,
            )

        self.binding.with_session(write, None, create=True)

    def clear(self) -> None:
        """Delete every message of the session (facts stored in it are kept)."""

        def delete(session: SessionResource) -> None:
            ids = [block.block_id for block in self._message_blocks(session)]
            if ids:
                session.delete_memory(ids)

        self.binding.with_session(delete, None, create=False)

    # --- async: the same code on a worker thread ----------------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        """Async :attr:`messages`."""
        return await anyio.to_thread.run_sync(lambda: self.messages)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async :meth:`add_messages`."""
        await anyio.to_thread.run_sync(self.add_messages, messages)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await anyio.to_thread.run_sync(self.clear)


__all__ = ["AgentMemoryChatMessageHistory"]
