"""``AgentMemoryBlock``: long-term memory for LlamaIndex's ``Memory`` class."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage as LIChatMessage
from llama_index.core.memory.memory import BaseMemoryBlock
from pydantic import Field

from .._models import MemoryBlock
from ..turn import estimate_tokens
from ._chat_log import ChatLog
from ._checks import (
    Annotations,
    OptionalId,
    check_key,
    check_messages,
    check_optional_messages,
)
from ._connection import MemoryLocation, run_sync
from ._messages import (
    ACTIVE,
    ARCHIVED,
    STATUS_KEY,
    dump,
    fingerprint,
    latest_user_text,
    without_session_stamp,
)
from ._recall import RecallOptions, recall

DEFAULT_SESSION = "llama_index_memory"


class AgentMemoryBlock(MemoryLocation, RecallOptions, BaseMemoryBlock[str]):
    """A ``BaseMemoryBlock[str]`` backed by the memory engine.

    Use it in ``Memory.from_defaults(memory_blocks=[AgentMemoryBlock(...)])``. Messages
    that ``Memory`` flushes out of its short-term history are stored as ``archived`` chat
    blocks of the memory session ``session_id`` (default: the ``Memory``'s own session, or
    ``"llama_index_memory"`` when the messages come without one). On every
    ``get`` it returns the ``k`` memories of the user most relevant to the latest user
    message, rendered as text. Messages of the current session that are still in the
    short-term history are not repeated, and a message that is already stored (for
    example by :class:`AgentMemoryChatStore`) is not stored twice.
    """

    name: str = Field(default="agent_memory", description="Name of the block in the prompt.")
    description: str | None = Field(
        default="Relevant memories from earlier conversations with this user."
    )
    session_id: OptionalId = Field(
        default=None,
        description="Session that stores flushed messages; None = the Memory's session_id.",
    )
    annotations: Annotations = Field(
        default_factory=dict, description="Annotations added to every stored message."
    )

    def _log(self) -> ChatLog:
        return ChatLog(self.client, self.user_id, self.annotations)

    def recall_text(
        self, messages: list[LIChatMessage] | None = None, session_id: str | None = None
    ) -> str:
        """The rendered memories relevant to the latest user message ('' if none)."""
        messages = check_optional_messages(messages)
        current = self.session_id if session_id is None else check_key(session_id)

        def in_history(block: MemoryBlock) -> bool:
            return block.session_id == current and block.annotations.get(STATUS_KEY) == ACTIVE

        found = recall(
            self._log(),
            current,
            latest_user_text(messages),
            self,
            exclude=in_history,
            spare=len(messages or []),
        )
        return self.render(found) or ""

    def store(self, messages: list[LIChatMessage]) -> None:
        """Store flushed messages as archived chat blocks, skipping ones already stored."""
        by_session: dict[str, list[LIChatMessage]] = {}
        for message in check_messages(messages):
            stamped = message.additional_kwargs.get("session_id")
            key = self.session_id or (stamped if isinstance(stamped, str) else DEFAULT_SESSION)
            by_session.setdefault(check_key(key), []).append(without_session_stamp(message))
        log = self._log()
        fresh = {
            key: [m for m in batch if not log.contains(key, fingerprint(dump(m)))]
            for key, batch in by_session.items()
        }
        log.add_many(fresh, ARCHIVED)

    async def _aget(self, messages: list[LIChatMessage] | None = None, **block_kwargs: Any) -> str:
        session_id = block_kwargs.get("session_id")
        return await run_sync(
            self.recall_text, messages, session_id if isinstance(session_id, str) else None
        )

    async def _aput(self, messages: list[LIChatMessage]) -> None:
        await run_sync(self.store, messages)

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the least relevant memories (the last lines) until enough tokens are freed."""
        lines = content.split("\n")
        bullets = [i for i, line in enumerate(lines) if line.startswith("- ")]
        freed = 0
        while bullets and freed < tokens_to_truncate:
            index = bullets.pop()
            freed += estimate_tokens(lines[index])
            del lines[index]
        return "\n".join(lines) if bullets else None
