"""The LlamaIndex adapters' boundary: bad input is a typed error and writes nothing.

The wide net is ``tests/reliability/test_hostile_adapters.py``; these are the behaviours
that net cannot see (messages, all-or-nothing replacement, which error type and message).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.storage.chat_store.base_db import MessageStatus

from memory_integrations import AgentMemoryClient
from memory_integrations.errors import ConfigurationError, NotFoundError, ValidationError
from memory_integrations.llama_index import (
    AgentMemory,
    AgentMemoryBaseChatStore,
    AgentMemoryBlock,
    AgentMemoryChatStore,
    AgentMemoryRetriever,
)


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def contents(messages: list[ChatMessage]) -> list[str | None]:
    return [m.content for m in messages]


def block_count(client: AgentMemoryClient, user_id: str = "alice") -> int:
    try:
        return client.get_user(user_id).count_memories()
    except Exception:
        return 0


@pytest.mark.parametrize(
    "fields",
    [
        {"user_id": None},
        {"user_id": 7},
        {"user_id": True},
        {"user_id": "a/b"},
        {"user_id": "eve\u202e"},
        {"user_id": "\ud800"},
        {"session_id": ""},
        {"session_id": "e\x00ve"},
        {"k": True},
        {"k": 1.5},
        {"k": math.nan},
        {"k": 1001},
        {"max_messages": True},
        {"max_messages": 0},
        {"max_messages": math.inf},
        {"token_budget": False},
        {"threshold": math.nan},
        {"threshold": True},
        {"scope": "zzz"},
        {"scope": ["ok", "a/b"]},
        {"on_reset": "zzz"},
        {"annotations": {"a b": "x"}},
        {"annotations": {"note": 5}},
        {"search_filters": "kind=fact"},
        {"path": "bad-\ud800.sqlite3"},
    ],
)
def test_bad_memory_fields_are_validation_errors(
    client: AgentMemoryClient, fields: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {"user_id": "alice", "session_id": "s", **fields}
    with pytest.raises(ValidationError):
        AgentMemory.from_client(client, **arguments)
    assert block_count(client) == 0


def test_a_field_check_keeps_its_own_message(client: AgentMemoryClient) -> None:
    """The check inside pydantic is raised as itself, not as pydantic's wrapped text."""
    with pytest.raises(ValidationError) as caught:
        AgentMemory.from_client(client, user_id="a/b")
    assert str(caught.value).startswith("user_id 'a/b' contains /")
    with pytest.raises(ValidationError, match="k must be a whole number, got True"):
        AgentMemory.from_client(client, user_id="alice", k=True)


def test_every_adapter_constructor_is_typed(client: AgentMemoryClient) -> None:
    for build in (
        lambda: AgentMemoryBlock(client=client, user_id=None),
        lambda: AgentMemoryBlock(client=client, user_id="alice", session_id="a/b"),
        lambda: AgentMemoryChatStore(client=client, user_id=True),
        lambda: AgentMemoryBaseChatStore(client=client, user_id="x" * 257),
        lambda: AgentMemoryChatStore.from_client(client, user_id="alice", annotations=["x"]),
        lambda: AgentMemory.model_validate({"user_id": "a/b"}),
        lambda: AgentMemory.from_dict({"user_id": "alice", "max_messages": "lots"}),
        lambda: AgentMemoryRetriever(client, user_id=None),
        lambda: AgentMemoryRetriever(client, user_id="alice", k=False),
        lambda: AgentMemoryRetriever(client, user_id="alice", threshold=math.inf),
        lambda: AgentMemoryRetriever(client, user_id="alice", scope=["\ud800"]),
        lambda: AgentMemoryRetriever(client, user_id="alice", filters=["kind"]),
    ):
        with pytest.raises(ValidationError):
            build()


def test_the_first_argument_is_a_client_a_handle_or_a_location(
    client: AgentMemoryClient, tmp_path: Path
) -> None:
    """Every adapter takes a client, a user/session handle or where the memory lives as its
    first argument (or ``client=``); anything else is refused naming the accepted forms."""
    path = str(tmp_path / "located.sqlite3")
    located = AgentMemory.from_client(path, user_id="alice", session_id="s", embedder="hashing")
    assert (located.path, located.user_id) == (path, "alice")
    positional = AgentMemory(client, user_id="alice", session_id="s")
    assert positional.client is client
    session = client.get_or_create_user("alice").get_or_create_session("s2")
    from_handle = AgentMemory(session)
    assert (from_handle.user_id, from_handle.session_id) == ("alice", "s2")
    retriever = AgentMemoryRetriever(path, user_id="alice", embedder="hashing")
    assert retriever.location.path == path
    assert AgentMemoryRetriever(client=client, user_id="alice").location.client is client
    with pytest.raises(ConfigurationError, match="first argument is where the memory lives"):
        AgentMemory(42, user_id="alice")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="once"):
        AgentMemory(client, client=client, user_id="alice")


def test_session_scope_needs_a_session(client: AgentMemoryClient) -> None:
    with pytest.raises(ConfigurationError, match="session_id"):
        AgentMemoryRetriever(client, user_id="alice", scope="session")


def test_wrong_message_shapes_write_nothing(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s")
    for call in (
        lambda: memory.put("hello"),  # type: ignore[arg-type]
        lambda: memory.put_messages("text"),  # type: ignore[arg-type]
        lambda: memory.put_messages(user("one")),  # type: ignore[arg-type]
        lambda: memory.put_messages([user("ok"), None]),  # type: ignore[list-item]
        lambda: memory.put_messages([user("ok"), user("bad \ud800")]),
        lambda: memory.set([None]),  # type: ignore[list-item]
        lambda: memory.get(42),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError):
            call()
    with pytest.raises(NotFoundError):  # not even the user or the session was created
        client.get_user("alice")


def test_a_refused_set_keeps_the_history(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s")
    memory.set([user("one"), user("two")])
    with pytest.raises(ValidationError):
        memory.set([user("one"), user("bad \ud800")])
    assert contents(memory.get_all()) == ["one", "two"]
    with pytest.raises(ValidationError):
        memory.set([user("one"), "two"])  # type: ignore[list-item]
    assert contents(memory.get_all()) == ["one", "two"]


def test_block_store_checks_every_session_first(client: AgentMemoryClient) -> None:
    block = AgentMemoryBlock(client=client, user_id="alice")
    good = user("fine").model_copy(update={"additional_kwargs": {"session_id": "s"}})
    bad = user("also fine").model_copy(update={"additional_kwargs": {"session_id": "a/b"}})
    with pytest.raises(ValidationError, match="session_id"):
        block.store([good, bad])
    with pytest.raises(ValidationError):
        block.store([good, user("\ud800")])
    with pytest.raises(ValidationError):
        block.recall_text("what do I like?")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        block.recall_text([user("tea")], session_id="a/b")
    assert block_count(client) == 0


@pytest.mark.parametrize("limit", [-1, True, math.nan, math.inf, 1.5, "10"])
def test_chat_store_limit(client: AgentMemoryClient, limit: Any) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="alice")
    with pytest.raises(ValidationError, match="limit"):
        store.get_messages_sync("k", limit=limit)
    with pytest.raises(ValidationError, match="offset"):
        store.get_messages_sync("k", offset=limit)


@pytest.mark.parametrize("idx", [None, "1", True, math.nan, math.inf, 1.5])
def test_chat_store_positions(client: AgentMemoryClient, idx: Any) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="alice")
    store.add_messages_sync("k", [user("one"), user("two")])
    with pytest.raises(ValidationError, match="idx"):
        store.delete_message_sync("k", idx)
    with pytest.raises(ValidationError, match="n must"):
        store.delete_oldest_messages_sync("k", idx)
    with pytest.raises(ValidationError, match="n must"):
        store.archive_oldest_messages_sync("k", idx)
    with pytest.raises(ValidationError, match="idx"):
        AgentMemoryBaseChatStore.from_client(client, user_id="alice").delete_message("k", idx)
    assert contents(store.get_messages_sync("k")) == ["one", "two"]
    assert store.delete_message_sync("k", -1) is None  # out of range: nothing selected


def test_chat_store_status_and_keys(client: AgentMemoryClient) -> None:
    store = AgentMemoryChatStore.from_client(client, user_id="alice")
    for call in (
        lambda: store.get_messages_sync("k", status="zzz"),  # type: ignore[arg-type]
        lambda: store.count_messages_sync("k", status=1),  # type: ignore[arg-type]
        lambda: store.delete_messages_sync("k", status="zzz"),  # type: ignore[arg-type]
        lambda: store.add_messages_sync("k", [user("x")], status="zzz"),  # type: ignore[arg-type]
        lambda: store.add_messages_sync(None, [user("x")]),  # type: ignore[arg-type]
        lambda: store.add_messages_sync("k", "text"),  # type: ignore[arg-type]
        lambda: store.set_messages_sync("k\u200b", [user("x")]),
    ):
        with pytest.raises(ValidationError):
            call()
    assert block_count(client) == 0
    store.add_messages_sync("k", [user("x")], status="archived")  # type: ignore[arg-type]
    assert store.count_messages_sync("k", status=MessageStatus.ARCHIVED) == 1


def test_retriever_query_and_filters(client: AgentMemoryClient) -> None:
    retriever = AgentMemoryRetriever(client, user_id="alice", filters={"session_ids": ["\ud800"]})
    with pytest.raises(ValidationError):
        retriever.retrieve("tea")
    with pytest.raises(ValidationError):
        AgentMemoryRetriever(client, user_id="alice").search(None)  # type: ignore[arg-type]
