"""``AgentMemory``: a LlamaIndex ``BaseMemory`` kept in the memory engine."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from llama_index.core.base.llms.types import ChatMessage as LIChatMessage
from llama_index.core.base.llms.types import MessageRole as LIRole
from llama_index.core.base.llms.types import TextBlock
from llama_index.core.memory import BaseMemory
from pydantic import Field

from .._models import MemoryBlock
from ._chat_log import ChatLog
from ._checks import Annotations, Id, check_input, check_message, whole
from ._connection import AnyClient, MemoryLocation, run_sync
from ._messages import ACTIVE, ARCHIVED, from_block, latest_user_text, message_text
from ._recall import RecallOptions, recall


def _new_session_id() -> str:
    return uuid.uuid4().hex


class AgentMemory(MemoryLocation, RecallOptions, BaseMemory):
    """Persistent chat memory for LlamaIndex agents and chat engines.

    Every message put into it is stored as a block of session ``session_id`` of user
    ``user_id``. :meth:`get` returns the session's recent chat (at most ``max_messages``)
    preceded by a system message with the ``k`` memories most relevant to the input,
    searched across the user's sessions (``scope``) — so a fact told in one conversation
    is recalled in the next. Only fields are serialised: a workflow ``Context`` round-trip
    or a fresh process rebuilds it from ``path`` / ``embedder``.

    ``reset()`` archives the session's messages (out of the chat, still recallable);
    with ``on_reset="delete"`` it deletes them. ``set()`` replaces the chat.

    Args:
        user_id: whose memory (required).
        session_id: the conversation (default: a new id).
        path / url / client: where the memory lives (see ``MemoryLocation``).
        embedder: the embedder spec of a store opened from ``path`` / ``url``.
        k, scope, threshold: what ``get`` recalls (see ``RecallOptions``).
        max_messages: recent messages ``get`` returns.
        annotations: tags every stored message carries.
        on_reset: ``"archive"`` or ``"delete"``.

    Example:
        ```python
        from llama_index.core.llms import ChatMessage

        from memory_integrations.llama_index import AgentMemory

        memory = AgentMemory.from_defaults(user_id="ana", path="memory.sqlite3")
        memory.put(ChatMessage(role="user", content="I am vegetarian."))
        messages = memory.get(input="Where should we eat?")
        ```
    """

    session_id: Id = Field(
        default_factory=_new_session_id, description="The conversation (memory session)."
    )
    max_messages: Annotated[int, whole(1)] = Field(
        default=40, ge=1, description="Recent messages of the session returned by get()."
    )
    annotations: Annotations = Field(
        default_factory=dict, description="Annotations added to every stored message."
    )
    on_reset: Literal["archive", "delete"] = Field(
        default="archive", description="What reset() does with the session's messages."
    )

    @classmethod
    def class_name(cls) -> str:
        return "AgentMemory"

    @classmethod
    def from_defaults(  # type: ignore[override]
        cls,
        *,
        user_id: str,
        session_id: str | None = None,
        chat_history: list[LIChatMessage] | None = None,
        client: AnyClient | None = None,
        **kwargs: Any,
    ) -> Self:
        """A memory for ``user_id`` (and ``session_id``, default a new one).

        ``chat_history`` replaces the session's chat; the other keyword arguments are fields.
        """
        if session_id is not None:
            kwargs["session_id"] = session_id
        if client is not None:
            kwargs["client"] = client
        memory = cls(user_id=user_id, **kwargs)
        if chat_history is not None:
            memory.set(chat_history)
        return memory

    @classmethod
    def from_client(
        cls,
        client: object,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        **fields: Any,
    ) -> Self:
        """A memory on a client, a user/session handle or a location (its path and embedder
        are recorded for rebuilds)."""
        if session_id is not None:
            fields["session_id"] = session_id
        return super().from_client(client, user_id=user_id, **fields)

    def _log(self) -> ChatLog:
        return ChatLog(self.client, self.user_id, self.annotations)

    def _window(self, log: ChatLog) -> list[tuple[MemoryBlock, LIChatMessage]]:
        rows = [(b, m) for b in log.blocks(self.session_id, ACTIVE) for m in from_block(b)]
        if len(rows) > self.max_messages:
            rows = rows[-self.max_messages :]
            # Start at a user message, so no tool result is cut off from its call.
            first = next((i for i, (_, m) in enumerate(rows) if m.role == LIRole.USER), 0)
            rows = rows[first:]
        return rows

    # --- BaseMemory -----------------------------------------------------------------------

    def get(self, input: str | LIChatMessage | None = None, **kwargs: Any) -> list[LIChatMessage]:
        """The recent chat, led by the memories relevant to ``input`` (or the last user turn)."""
        input = check_input(input)
        log = self._log()
        window = self._window(log)
        messages = [message for _, message in window]
        query = message_text(input) or latest_user_text(messages)
        shown = {block.block_id for block, _ in window}
        recalled = recall(
            log,
            self.session_id,
            query,
            self,
            exclude=lambda block: block.block_id in shown,
            spare=len(shown),
        )
        text = self.render(recalled)
        if text is None:
            return messages
        if messages and messages[0].role == LIRole.SYSTEM:
            first = messages[0]
            merged = first.model_copy(update={"blocks": [TextBlock(text=text), *first.blocks]})
            return [merged, *messages[1:]]
        return [LIChatMessage(role=LIRole.SYSTEM, content=text), *messages]

    def get_all(self) -> list[LIChatMessage]:
        """The session's whole current chat (no recalled memories)."""
        return self._log().messages(self.session_id, ACTIVE)

    def put(self, message: LIChatMessage) -> None:
        """Store one message (searchable when this returns)."""
        self._log().add(self.session_id, [check_message(message)], ACTIVE)

    def put_messages(self, messages: list[LIChatMessage]) -> None:
        self._log().add(self.session_id, messages, ACTIVE)

    def set(self, messages: list[LIChatMessage]) -> None:
        """Replace the session's chat with ``messages`` (a common prefix is not rewritten)."""
        self._log().replace(self.session_id, messages, ACTIVE)

    def reset(self) -> None:
        """Clear the chat: archive its messages (or delete them with ``on_reset="delete"``)."""
        log = self._log()
        if self.on_reset == "delete":
            log.delete(self.session_id, log.blocks(self.session_id, None))
        else:
            log.set_status(self.session_id, log.blocks(self.session_id, ACTIVE), ARCHIVED)

    async def aget(
        self, input: str | LIChatMessage | None = None, **kwargs: Any
    ) -> list[LIChatMessage]:
        return await run_sync(self.get, input, **kwargs)

    async def aget_all(self) -> list[LIChatMessage]:
        return await run_sync(self.get_all)

    async def aput(self, message: LIChatMessage) -> None:
        await run_sync(self.put, message)

    async def aput_messages(self, messages: list[LIChatMessage]) -> None:
        await run_sync(self.put_messages, messages)

    async def aset(self, messages: list[LIChatMessage]) -> None:
        await run_sync(self.set, messages)

    async def areset(self) -> None:
        await run_sync(self.reset)
