"""Port of LlamaIndex ``llama-index-core/tests/memory/test_memory_custom_chat_store.py``
("Memory works with any AsyncDBChatStore") with ``AgentMemoryChatStore`` as that store.
See tests/upstream/README.md. Upstream defines a small dict-backed ``InMemoryChatStore``;
the port checks its buckets through the store's own ``get_messages(status=...)``."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from pydantic import PrivateAttr

from memory_integrations import AgentMemoryClient
from memory_integrations.llama_index import AgentMemoryChatStore


async def test_memory_accepts_custom_chat_store(chat_store: AgentMemoryChatStore) -> None:
    memory = Memory(token_limit=1000, session_id="test_user", sql_store=chat_store)
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="Message 1"),
            ChatMessage(role="assistant", content="Response 1"),
        ]
    )
    assert [m.content for m in await memory.aget()] == ["Message 1", "Response 1"]
    assert memory.sql_store is chat_store
    assert len(await chat_store.get_messages("test_user")) == 2


async def test_from_defaults_with_custom_chat_store(chat_store: AgentMemoryChatStore) -> None:
    memory = Memory.from_defaults(
        session_id="test_user",
        token_limit=1000,
        chat_history=[ChatMessage(role="user", content="Seeded")],
        chat_store=chat_store,
    )
    assert memory.sql_store is chat_store
    assert [m.content for m in await memory.aget()] == ["Seeded"]


def test_from_defaults_without_chat_store_still_uses_sql_store() -> None:
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

    memory = Memory.from_defaults(token_limit=1000, table_name="test_memory")
    assert isinstance(memory.sql_store, SQLAlchemyChatStore)
    assert memory.sql_store.table_name == "test_memory"


async def test_waterfall_archives_into_custom_chat_store(chat_store: AgentMemoryChatStore) -> None:
    memory = Memory(
        token_limit=1000,
        token_flush_size=700,
        chat_history_token_ratio=0.9,
        session_id="test_user",
        sql_store=chat_store,
    )
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="x " * 500),
            ChatMessage(role="assistant", content="y " * 500),
            ChatMessage(role="user", content="z " * 500),
        ]
    )
    current = await memory.aget()
    assert len(current) == 1 and "z " in current[0].content  # type: ignore[operator]
    assert len(await chat_store.get_messages("test_user", status=MessageStatus.ARCHIVED)) == 2


def _staggered(base: type[Any]) -> type[Any]:
    """Upstream's staggered archive on ``base``: while armed, the first archive call waits a
    little and later ones longer, forcing two concurrent waterfalls to interleave."""

    class Staggered(base):  # type: ignore[valid-type, misc]
        _armed: bool = PrivateAttr(default=False)
        _archive_calls: int = PrivateAttr(default=0)

        async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
            if self._armed:
                self._archive_calls += 1
                await asyncio.sleep(0.05 if self._archive_calls == 1 else 0.3)
            result: list[ChatMessage] = await super().archive_oldest_messages(key, n)
            return result

    return Staggered


StaggeredArchiveChatStore = _staggered(AgentMemoryChatStore)
StaggeredSQLAlchemyChatStore = _staggered(SQLAlchemyChatStore)


def _seed_messages() -> list[ChatMessage]:
    return [ChatMessage(role="user", content=f"seed{i} " + "word " * 12) for i in range(6)]


async def _active_after(store: Any, session: str, concurrently: bool) -> list[str | None]:
    await store.add_messages(session, _seed_messages())
    memory = Memory(
        token_limit=60,
        token_flush_size=40,
        chat_history_token_ratio=1.0,
        session_id=session,
        sql_store=store,
    )
    puts = [
        memory.aput(ChatMessage(role="user", content="newA " + "word " * 12)),
        memory.aput(ChatMessage(role="user", content="newB " + "word " * 12)),
    ]
    if concurrently:
        store._armed = True
        await asyncio.gather(*puts)
        store._armed = False
    else:
        for put in puts:
            await put
    return [m.content for m in await store.get_messages(session)]


async def test_concurrent_aput_does_not_over_archive(client: AgentMemoryClient) -> None:
    """Upstream: two concurrent puts archive what two sequential ones do. That relies on a
    lock in Memory that is newer than the installed llama-index-core: with it, LlamaIndex's
    own SQLAlchemyChatStore over-archives the same way. So the port checks that ours does
    exactly what LlamaIndex's store does, and upstream's equality when Memory has the lock."""
    session = "race_user"
    expected = await _active_after(
        AgentMemoryChatStore.from_client(client, user_id="sequential"), session, False
    )
    assert len(expected) < 8  # the sequential run does archive some seeds
    ours = await _active_after(
        StaggeredArchiveChatStore.from_client(client, user_id="gated"), session, True
    )
    reference = await _active_after(
        StaggeredSQLAlchemyChatStore(
            table_name="race", async_database_uri="sqlite+aiosqlite:///:memory:"
        ),
        session,
        True,
    )
    assert ours == reference
    if reference == expected:
        assert ours == expected


def test_sync_put_works_across_event_loops(chat_store: AgentMemoryChatStore) -> None:
    memory = Memory(token_limit=1000, session_id="loop_user", sql_store=chat_store)
    memory.put(ChatMessage(role="user", content="one"))
    memory.put(ChatMessage(role="user", content="two"))
    assert [m.content for m in memory.get_all()] == ["one", "two"]
