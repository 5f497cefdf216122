"""Chat stores kept in the memory engine: ``AsyncDBChatStore`` and ``BaseChatStore``.

Mapping (both classes share it, so they read each other's data):

* a chat store **key** is a memory **session** of ``user_id`` (created on the first write;
  keys must be valid session ids: no ``/ ? # %``);
* a **message** is one role-tagged message block, its exact LlamaIndex form in the block
  metadata;
* the message **status** is the block annotation ``chat_status`` (``active`` /
  ``archived``); archived messages stay searchable, so :class:`AgentMemoryBlock` and
  :class:`AgentMemoryRetriever` can recall them;
* **order** is write order; an **index** (``delete_message``) is a position in the key's
  messages, oldest first (all statuses for ``AgentMemoryChatStore``, the active list for
  ``AgentMemoryBaseChatStore``).
"""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage as LIChatMessage
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from pydantic import Field

from ._chat_log import ChatLog
from ._checks import (
    Annotations,
    check_message,
    check_optional_count,
    check_position,
    check_status,
)
from ._connection import MemoryLocation, run_sync
from ._messages import ACTIVE, ARCHIVED, from_block


def _status(status: MessageStatus | None) -> str | None:
    checked = check_status(status)
    if checked is None:
        return None
    return ARCHIVED if checked == MessageStatus.ARCHIVED else ACTIVE


class _ChatStoreFields(MemoryLocation):
    annotations: Annotations = Field(
        default_factory=dict, description="Annotations added to every stored message."
    )

    def _log(self) -> ChatLog:
        return ChatLog(self.client, self.user_id, self.annotations)


class _SyncDBChatStore(_ChatStoreFields):
    """The implementation of :class:`AgentMemoryChatStore`, synchronous."""

    def get_messages_sync(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[LIChatMessage]:
        """Messages of ``key`` with ``status`` (None = all), oldest first."""
        wanted = _status(status)
        count = check_optional_count(limit, "limit")
        start = check_optional_count(offset, "offset") or 0
        messages = self._log().messages(key, wanted)
        return messages[start:] if count is None else messages[start : start + count]

    def count_messages_sync(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        return self._log().count(key, _status(status))

    def add_messages_sync(
        self,
        key: str,
        messages: list[LIChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        self._log().add(key, messages, _status(status) or ACTIVE)

    def set_messages_sync(
        self,
        key: str,
        messages: list[LIChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Replace the messages of ``key`` that have ``status`` (others are kept)."""
        self._log().replace(key, messages, _status(status) or ACTIVE)

    def delete_message_sync(self, key: str, idx: int) -> LIChatMessage | None:
        idx = check_position(idx, "idx")
        log = self._log()
        blocks = log.blocks(key, None)
        if not 0 <= idx < len(blocks):
            return None
        log.delete(key, [blocks[idx]])
        messages = from_block(blocks[idx])
        return messages[0] if messages else None

    def delete_messages_sync(self, key: str, status: MessageStatus | None = None) -> None:
        wanted = _status(status)
        log = self._log()
        log.delete(key, log.blocks(key, wanted))

    def delete_oldest_messages_sync(self, key: str, n: int) -> list[LIChatMessage]:
        n = check_position(n, "n")
        log = self._log()
        oldest = log.blocks(key, ACTIVE)[: max(n, 0)]
        log.delete(key, oldest)
        return [m for block in oldest for m in from_block(block)]

    def archive_oldest_messages_sync(self, key: str, n: int) -> list[LIChatMessage]:
        n = check_position(n, "n")
        log = self._log()
        oldest = log.blocks(key, ACTIVE)[: max(n, 0)]
        log.set_status(key, oldest, ARCHIVED)
        return [m for block in oldest for m in from_block(block)]

    def get_keys_sync(self) -> list[str]:
        return self._log().keys()


class AgentMemoryChatStore(_SyncDBChatStore, AsyncDBChatStore):
    """An ``AsyncDBChatStore`` in the memory engine: the short-term history of ``Memory``.

    ``Memory.from_defaults(session_id=..., chat_store=AgentMemoryChatStore(user_id=...))``
    keeps ``Memory``'s FIFO queue in the memory file (surviving restarts); flushed messages
    become ``archived`` and stay searchable. Every async method runs its ``*_sync`` twin on
    a worker thread. ``set_messages`` replaces only the messages with the given status.
    """

    @classmethod
    def class_name(cls) -> str:
        return "AgentMemoryChatStore"

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[LIChatMessage]:
        return await run_sync(self.get_messages_sync, key, status, limit, offset)

    async def count_messages(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        return await run_sync(self.count_messages_sync, key, status)

    async def add_message(
        self, key: str, message: LIChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        await run_sync(self.add_messages_sync, key, [check_message(message)], status)

    async def add_messages(
        self,
        key: str,
        messages: list[LIChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        await run_sync(self.add_messages_sync, key, messages, status)

    async def set_messages(
        self,
        key: str,
        messages: list[LIChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        await run_sync(self.set_messages_sync, key, messages, status)

    async def delete_message(self, key: str, idx: int) -> LIChatMessage | None:
        return await run_sync(self.delete_message_sync, key, idx)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        await run_sync(self.delete_messages_sync, key, status)

    async def delete_oldest_messages(self, key: str, n: int) -> list[LIChatMessage]:
        return await run_sync(self.delete_oldest_messages_sync, key, n)

    async def archive_oldest_messages(self, key: str, n: int) -> list[LIChatMessage]:
        return await run_sync(self.archive_oldest_messages_sync, key, n)

    async def get_keys(self) -> list[str]:
        return await run_sync(self.get_keys_sync)


class AgentMemoryBaseChatStore(_ChatStoreFields, BaseChatStore):
    """A ``BaseChatStore`` in the memory engine, for ``ChatMemoryBuffer`` and other users
    of LlamaIndex's key → messages interface.

    It works on the active messages of each key, the same data :class:`AgentMemoryChatStore`
    calls active. Its async methods are ``BaseChatStore``'s (the sync ones on a thread).
    """

    @classmethod
    def class_name(cls) -> str:
        return "AgentMemoryBaseChatStore"

    def set_messages(self, key: str, messages: list[LIChatMessage]) -> None:
        self._log().replace(key, messages, ACTIVE)

    def get_messages(self, key: str) -> list[LIChatMessage]:
        return self._log().messages(key, ACTIVE)

    def add_message(self, key: str, message: LIChatMessage) -> None:
        self._log().add(key, [check_message(message)], ACTIVE)

    def delete_messages(self, key: str) -> list[LIChatMessage] | None:
        log = self._log()
        blocks = log.blocks(key, ACTIVE)
        if not blocks:
            return None
        log.delete(key, blocks)
        return [m for block in blocks for m in from_block(block)]

    def delete_message(self, key: str, idx: int) -> LIChatMessage | None:
        idx = check_position(idx, "idx")
        log = self._log()
        blocks = log.blocks(key, ACTIVE)
        if not 0 <= idx < len(blocks):
            return None
        log.delete(key, [blocks[idx]])
        messages = from_block(blocks[idx])
        return messages[0] if messages else None

    def delete_last_message(self, key: str) -> LIChatMessage | None:
        log = self._log()
        blocks = log.blocks(key, ACTIVE)
        if not blocks:
            return None
        log.delete(key, blocks[-1:])
        messages = from_block(blocks[-1])
        return messages[0] if messages else None

    def get_keys(self) -> list[str]:
        return self._log().keys()
