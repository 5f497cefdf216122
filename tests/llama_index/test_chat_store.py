"""The chat stores, checked against LlamaIndex's own reference implementations."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.storage.chat_store import SimpleChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

from memory_integrations import AgentMemoryClient
from memory_integrations.errors import ValidationError
from memory_integrations.llama_index import AgentMemoryBaseChatStore, AgentMemoryChatStore

ACTIVE, ARCHIVED = MessageStatus.ACTIVE, MessageStatus.ARCHIVED


def msgs(*texts: str) -> list[ChatMessage]:
    roles = (MessageRole.USER, MessageRole.ASSISTANT)
    return [ChatMessage(role=roles[i % 2], content=t) for i, t in enumerate(texts)]


def texts(messages: list[ChatMessage]) -> list[str | None]:
    return [m.content for m in messages]


async def scenario(store: AsyncDBChatStore) -> list[Any]:
    """Exercise every method; return what a caller observes."""
    seen: list[Any] = []
    seen.append(await store.get_messages("a"))
    seen.append(await store.count_messages("a"))
    await store.add_message("a", msgs("m1")[0])
    await store.add_messages("a", msgs("m2", "m3", "m4", "m5"))
    await store.add_messages("b", msgs("b1", "b2"))
    seen.append(texts(await store.get_messages("a")))
    seen.append(texts(await store.get_messages("a", limit=2, offset=1)))
    seen.append(sorted(await store.get_keys()))
    seen.append(texts(await store.archive_oldest_messages("a", 2)))
    seen.append(texts(await store.get_messages("a")))
    seen.append(texts(await store.get_messages("a", status=ARCHIVED)))
    seen.append(texts(await store.get_messages("a", status=None)))
    seen.append(await store.count_messages("a"))
    seen.append(await store.count_messages("a", status=ARCHIVED))
    seen.append(await store.count_messages("a", status=None))
    seen.append(texts(await store.delete_oldest_messages("a", 1)))
    seen.append(texts(await store.get_messages("a", status=None)))
    seen.append(texts(await store.archive_oldest_messages("a", 10)))
    seen.append(await store.count_messages("a"))
    await store.add_message("a", msgs("m6")[0])
    await store.delete_messages("a", status=ARCHIVED)
    seen.append(texts(await store.get_messages("a", status=None)))
    await store.delete_messages("b")
    seen.append(sorted(await store.get_keys()))
    seen.append(await store.get_messages("b", status=None))
    seen.append(await store.archive_oldest_messages("nobody", 3))
    seen.append(await store.delete_oldest_messages("nobody", 3))
    await store.set_messages("c", msgs("c1", "c2"))
    seen.append(texts(await store.get_messages("c")))
    return seen


async def test_async_db_chat_store_behaves_like_the_sqlalchemy_store(
    client: AgentMemoryClient,
) -> None:
    reference = SQLAlchemyChatStore(
        table_name="ref", async_database_uri="sqlite+aiosqlite:///:memory:"
    )
    expected = await scenario(reference)
    assert expected[6] == ["m3", "m4", "m5"]  # the scenario itself is meaningful
    assert await scenario(AgentMemoryChatStore.from_client(client, user_id="u")) == expected


async def test_messages_round_trip_exactly(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="u")
    call = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[ToolCallBlock(tool_call_id="1", tool_name="lookup", tool_kwargs={"q": "x"})],
        additional_kwargs={"k": [1, {"v": None}]},
    )
    result = ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"id": "1"})
    await store.add_messages("k", [call, result])
    assert await store.get_messages("k") == [call, result]


async def test_set_messages_replaces_only_that_status(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="u")
    await store.add_messages("k", msgs("old1", "old2", "cur"))
    await store.archive_oldest_messages("k", 2)
    await store.set_messages("k", msgs("new1", "new2"))
    assert texts(await store.get_messages("k")) == ["new1", "new2"]
    # Archived history is long-term memory: replacing the active queue keeps it.
    assert texts(await store.get_messages("k", status=ARCHIVED)) == ["old1", "old2"]


async def test_delete_message_by_position(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="u")
    await store.add_messages("k", msgs("m0", "m1", "m2"))
    await store.archive_oldest_messages("k", 1)
    removed = await store.delete_message("k", 1)  # position over all statuses
    assert removed is not None and removed.content == "m1"
    assert texts(await store.get_messages("k", status=None)) == ["m0", "m2"]
    assert await store.delete_message("k", 5) is None
    assert await store.delete_message("missing", 0) is None


async def test_keys_are_sessions_of_the_user(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="u")
    await store.add_message("chat-1", msgs("hi")[0])
    other = AgentMemoryChatStore.from_client(client, user_id="someone-else")
    await other.add_message("chat-2", msgs("hello")[0])
    assert await store.get_keys() == ["chat-1"]
    assert await other.get_keys() == ["chat-2"]
    assert await other.get_messages("chat-1") == []  # another user's key is not visible
    session = client.get_user("u").get_session("chat-1")
    assert session.list_memories().memory_blocks[0].annotations == {"chat_status": "active"}


async def test_invalid_key_is_a_clear_error(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="u")
    with pytest.raises(ValidationError, match="session_id"):
        await store.add_message("a/b", msgs("x")[0])


def test_sync_twins_and_serialisation(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="u", annotations={"app": "demo"})
    store.add_messages_sync("k", msgs("one", "two"))
    assert texts(store.get_messages_sync("k")) == ["one", "two"]
    clone = AgentMemoryChatStore.model_validate(store.model_dump())
    assert texts(clone.get_messages_sync("k")) == ["one", "two"]
    block = client.get_user("u").get_session("k").list_memories().memory_blocks[0]
    assert block.annotations == {"app": "demo", "chat_status": "active"}


# --- BaseChatStore -------------------------------------------------------------------------


def base_scenario(store: Any) -> list[Any]:
    seen: list[Any] = [store.get_messages("a"), store.get_keys()]
    store.add_message("a", msgs("m1")[0])
    store.add_message("a", msgs("x", "m2")[1])
    store.set_messages("b", msgs("b1", "b2", "b3"))
    seen.append(texts(store.get_messages("a")))
    seen.append(sorted(store.get_keys()))
    seen.append(store.delete_message("b", 1).content)
    seen.append(store.delete_message("b", 9))
    seen.append(store.delete_last_message("b").content)
    seen.append(texts(store.get_messages("b")))
    seen.append(texts(store.delete_messages("a")))
    seen.append(store.get_messages("a"))
    seen.append(store.delete_last_message("a"))
    return seen


def test_base_chat_store_behaves_like_simple_chat_store(client: AgentMemoryClient) -> None:
    expected = base_scenario(SimpleChatStore())
    assert expected[4] == "b2"
    assert base_scenario(AgentMemoryBaseChatStore.from_client(client, user_id="u")) == expected


async def test_base_chat_store_async_methods(client: AgentMemoryClient) -> None:
    store = AgentMemoryBaseChatStore.from_client(client, user_id="u")
    await store.async_add_message("k", msgs("one")[0])
    await store.aset_messages("j", msgs("two"))
    assert texts(await store.aget_messages("k")) == ["one"]
    assert sorted(await store.aget_keys()) == ["j", "k"]
    assert (await store.adelete_last_message("j")).content == "two"  # type: ignore[union-attr]


def test_chat_memory_buffer_on_the_base_chat_store(client: AgentMemoryClient) -> None:
    store = AgentMemoryBaseChatStore.from_client(client, user_id="u")
    buffer = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="conv")
    buffer.put(msgs("hello")[0])
    buffer.put(msgs("x", "hi there")[1])
    again = ChatMemoryBuffer.from_defaults(
        chat_store=AgentMemoryBaseChatStore.from_client(client, user_id="u"), chat_store_key="conv"
    )
    assert texts(again.get()) == ["hello", "hi there"]
    # Both chat stores read the same data.
    assert texts(
        AgentMemoryChatStore.from_client(client, user_id="u").get_messages_sync("conv")
    ) == [
        "hello",
        "hi there",
    ]


def test_chat_memory_buffer_reloads_through_the_store_class_not_from_dict(
    client: AgentMemoryClient,
) -> None:
    """``ChatMemoryBuffer.from_dict`` / ``from_string`` only know ``SimpleChatStore``; the
    route docs/llama_index.md gives (rebuild the store with its own class) restores the
    buffer, and the messages, which live in the engine, come back with it."""
    import json

    store = AgentMemoryBaseChatStore.from_client(client, user_id="u")
    buffer = ChatMemoryBuffer.from_defaults(
        chat_store=store, chat_store_key="conv", token_limit=900
    )
    buffer.put(msgs("hello")[0])
    saved = buffer.to_string()
    assert json.loads(saved)["chat_store"]["class_name"] == "AgentMemoryBaseChatStore"
    with pytest.raises(ValueError, match="Invalid ChatStore name"):
        ChatMemoryBuffer.from_string(saved)  # LlamaIndex's own loader: SimpleChatStore only
    with pytest.raises(ValueError, match="Invalid ChatStore name"):
        ChatMemoryBuffer.from_dict(buffer.to_dict())

    data = json.loads(saved)
    restored = ChatMemoryBuffer(
        chat_store=AgentMemoryBaseChatStore.model_validate(data.pop("chat_store")), **data
    )
    assert (restored.chat_store_key, restored.token_limit) == ("conv", 900)
    assert texts(restored.get_all()) == ["hello"]
    restored.put(msgs("x", "hi there")[1])
    assert texts(buffer.get_all()) == ["hello", "hi there"]  # one history, in the engine
