"""Port of LlamaIndex ``llama-index-core/tests/storage/chat_store/test_simple_chat_store.py``
(``SimpleChatStore``, the reference ``BaseChatStore``) to ``AgentMemoryBaseChatStore``.
See tests/upstream/README.md."""

from __future__ import annotations

import pytest
from llama_index.core.llms import ChatMessage

from memory_integrations.llama_index import AgentMemoryBaseChatStore


def _user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def test_add_messages(base_chat_store: AgentMemoryBaseChatStore) -> None:
    store = base_chat_store
    for key in ("user1", "user2"):
        store.add_message(key, _user("hello"))
        store.add_message(key, _user("world"))
    assert store.get_messages("user1") == [_user("hello"), _user("world")]
    assert store.get_messages("user2") == [_user("hello"), _user("world")]
    assert sorted(store.get_keys()) == ["user1", "user2"]


@pytest.mark.skip(
    reason="add_message(key, message, idx=0) inserts at a position: a SimpleChatStore "
    "extension that BaseChatStore does not have; AgentMemoryBaseChatStore appends"
)
def test_add_message_at_index() -> None:
    """Upstream: the last part of test_add_messages."""


def test_delete_chat_messages(base_chat_store: AgentMemoryBaseChatStore) -> None:
    store = base_chat_store
    for key in ("user1", "user2"):
        store.add_message(key, _user("hello"))
        store.add_message(key, _user("world"))
    store.delete_messages("user1")
    assert store.get_messages("user1") == []
    assert store.get_messages("user2") == [_user("hello"), _user("world")]


def test_delete_chat_message(base_chat_store: AgentMemoryBaseChatStore) -> None:
    base_chat_store.add_message("user1", _user("hello"))
    base_chat_store.add_message("user1", _user("world"))
    base_chat_store.delete_last_message("user1")
    assert base_chat_store.get_messages("user1") == [_user("hello")]


def test_delete_chat_message_idx(base_chat_store: AgentMemoryBaseChatStore) -> None:
    base_chat_store.add_message("user1", _user("hello"))
    base_chat_store.add_message("user1", _user("world"))
    base_chat_store.delete_message("user1", 0)
    assert base_chat_store.get_messages("user1") == [_user("world")]


def test_delete_chat_message_out_of_bounds(base_chat_store: AgentMemoryBaseChatStore) -> None:
    base_chat_store.add_message("user1", _user("hello"))
    assert base_chat_store.delete_message("user1", -2) is None
    assert base_chat_store.get_messages("user1") == [_user("hello")]


def test_delete_last_chat_message_from_empty_history(
    base_chat_store: AgentMemoryBaseChatStore,
) -> None:
    message = _user("hello")
    base_chat_store.add_message("user1", message)
    assert base_chat_store.delete_last_message("user1") == message
    assert base_chat_store.delete_last_message("user1") is None


@pytest.mark.skip(
    reason="SimpleChatStore.persist / from_persist_path write the whole store to a JSON file; "
    "AgentMemoryBaseChatStore is the database, so there is no file to write"
)
def test_persist_non_ascii_unescaped() -> None:
    """Upstream: non-ASCII text survives persist() unescaped."""


def test_non_ascii_round_trips(base_chat_store: AgentMemoryBaseChatStore) -> None:
    """What the skipped test checks, for this store: non-ASCII text is kept as is."""
    base_chat_store.add_message("user1", _user("ハロー héllo"))
    assert base_chat_store.get_messages("user1") == [_user("ハロー héllo")]
