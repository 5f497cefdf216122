"""Port of LlamaIndex ``llama-index-core/tests/storage/chat_store/test_sql.py``
(``SQLAlchemyChatStore``, the reference ``AsyncDBChatStore``) to ``AgentMemoryChatStore``.
See tests/upstream/README.md."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.storage.chat_store.base_db import MessageStatus

from memory_integrations.llama_index import AgentMemoryChatStore


def _batch(*texts: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=t)
        for i, t in enumerate(texts)
    ]


async def test_add_get_messages(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    await chat_store.add_message("user1", ChatMessage(role="assistant", content="world"))
    messages = await chat_store.get_messages("user1")
    assert [(m.role, m.content) for m in messages] == [("user", "hello"), ("assistant", "world")]
    assert await chat_store.get_messages("nonexistent") == []


async def test_add_messages_batch(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_messages("batch_user", _batch("hello", "world", "how are you?"))
    messages = await chat_store.get_messages("batch_user")
    assert [m.content for m in messages] == ["hello", "world", "how are you?"]


async def test_count_messages(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_messages("count_user", _batch("message1", "message2", "message3"))
    assert await chat_store.count_messages("count_user") == 3
    assert await chat_store.count_messages("nonexistent") == 0


async def test_set_messages(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_message("replace_user", ChatMessage(role="user", content="initial"))
    await chat_store.set_messages("replace_user", _batch("replaced1", "replaced2"))
    messages = await chat_store.get_messages("replace_user")
    assert [m.content for m in messages] == ["replaced1", "replaced2"]


async def test_delete_message(chat_store: AgentMemoryChatStore) -> None:
    """Upstream reads the middle message's row id from the SQL table and deletes by id;
    ``AgentMemoryChatStore.delete_message`` takes the message's position (documented)."""
    await chat_store.add_messages("delete_user", _batch("message1", "message2", "message3"))
    deleted = await chat_store.delete_message("delete_user", 1)
    assert deleted is not None and deleted.content == "message2"
    remaining = await chat_store.get_messages("delete_user")
    assert [m.content for m in remaining] == ["message1", "message3"]


async def test_delete_messages(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_message(
        "delete_all_user1", ChatMessage(role="user", content="user1_message")
    )
    await chat_store.add_message(
        "delete_all_user2", ChatMessage(role="user", content="user2_message")
    )
    await chat_store.delete_messages("delete_all_user1")
    assert await chat_store.get_messages("delete_all_user1") == []
    assert len(await chat_store.get_messages("delete_all_user2")) == 1


async def test_delete_oldest_messages(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_messages("oldest_test", _batch("oldest", "middle", "newest"))
    deleted = await chat_store.delete_oldest_messages("oldest_test", 1)
    assert [m.content for m in deleted] == ["oldest"]
    remaining = await chat_store.get_messages("oldest_test")
    assert [m.content for m in remaining] == ["middle", "newest"]


async def test_archive_oldest_messages(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_messages("archive_test", _batch("oldest", "middle", "newest"))
    archived = await chat_store.archive_oldest_messages("archive_test", 1)
    assert [m.content for m in archived] == ["oldest"]
    active = await chat_store.get_messages("archive_test", status=MessageStatus.ACTIVE)
    assert [m.content for m in active] == ["middle", "newest"]
    stored = await chat_store.get_messages("archive_test", status=MessageStatus.ARCHIVED)
    assert [m.content for m in stored] == ["oldest"]


async def test_get_messages_with_limit_offset(chat_store: AgentMemoryChatStore) -> None:
    await chat_store.add_messages(
        "pagination_test", _batch("message1", "message2", "message3", "message4", "message5")
    )
    limited = await chat_store.get_messages("pagination_test", limit=2)
    assert [m.content for m in limited] == ["message1", "message2"]
    offset = await chat_store.get_messages("pagination_test", offset=2)
    assert [m.content for m in offset] == ["message3", "message4", "message5"]
    page = await chat_store.get_messages("pagination_test", limit=2, offset=1)
    assert [m.content for m in page] == ["message2", "message3"]


async def test_get_keys(chat_store: AgentMemoryChatStore) -> None:
    for n in (1, 2, 3):
        await chat_store.add_message(
            f"keys_user{n}", ChatMessage(role="user", content=f"user{n}_message")
        )
    assert {"keys_user1", "keys_user2", "keys_user3"} <= set(await chat_store.get_keys())
