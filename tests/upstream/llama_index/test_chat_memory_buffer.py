"""Port of LlamaIndex ``llama-index-core/tests/memory/test_chat_memory_buffer.py``
(``ChatMemoryBuffer``) with ``AgentMemoryBaseChatStore`` as its chat store.
See tests/upstream/README.md. Upstream's buffers keep a ``SimpleChatStore``; every
``from_defaults`` here gets ``chat_store=`` ours, under its own key."""

from __future__ import annotations

import json
import pickle
import uuid
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.memory.chat_memory_buffer import ChatMemoryBuffer
from llama_index.core.utils import get_tokenizer

from memory_integrations.llama_index import AgentMemoryBaseChatStore

tokenizer = get_tokenizer()
USER_CHAT_MESSAGE = ChatMessage(role=MessageRole.USER, content="first message")
USER_CHAT_MESSAGE_TOKENS = len(tokenizer(str(USER_CHAT_MESSAGE.content)))
SECOND_USER_CHAT_MESSAGE = ChatMessage(role=MessageRole.USER, content="second message")
ASSISTANT_CHAT_MESSAGE = ChatMessage(role=MessageRole.ASSISTANT, content="first answer")
ASSISTANT_CHAT_MESSAGE_TOKENS = len(tokenizer(str(ASSISTANT_CHAT_MESSAGE.content)))
SECOND_ASSISTANT_CHAT_MESSAGE = ChatMessage(role=MessageRole.USER, content="second answer")
SECOND_ASSISTANT_CHAT_MESSAGE_TOKENS = len(tokenizer(str(SECOND_ASSISTANT_CHAT_MESSAGE.content)))
FOUR = [
    USER_CHAT_MESSAGE,
    ASSISTANT_CHAT_MESSAGE,
    SECOND_USER_CHAT_MESSAGE,
    SECOND_ASSISTANT_CHAT_MESSAGE,
]


@pytest.fixture
def buffer(base_chat_store: AgentMemoryBaseChatStore) -> Any:
    """``buffer(**kwargs)``: ChatMemoryBuffer.from_defaults on our store, a fresh key each."""

    def make(**kwargs: Any) -> ChatMemoryBuffer:
        key = f"buffer-{uuid.uuid4().hex[:8]}"
        return ChatMemoryBuffer.from_defaults(
            chat_store=base_chat_store, chat_store_key=key, **kwargs
        )

    return make


def test_put_get(buffer: Any) -> None:
    history = buffer(chat_history=[USER_CHAT_MESSAGE]).get()
    assert [m.content for m in history] == [USER_CHAT_MESSAGE.content]


def test_get_when_initial_tokens_less_than_limit_returns_history(buffer: Any) -> None:
    history = buffer(token_limit=1000, chat_history=[USER_CHAT_MESSAGE]).get(5)
    assert history == [USER_CHAT_MESSAGE]


def _outcome(call: Any) -> Any:
    try:
        return call()
    except ValueError as exc:
        return ("ValueError", str(exc))


@pytest.fixture
def both(buffer: Any) -> Any:
    """``both(**kwargs)``: the buffer on our store and the same buffer on LlamaIndex's own
    SimpleChatStore. The token-budget tests below expect what the upstream file at the ported
    commit expects of a newer llama-index-core; the installed one trims differently, even on
    its own store, so these ports check that ours answers exactly as SimpleChatStore does."""

    def make(**kwargs: Any) -> tuple[ChatMemoryBuffer, ChatMemoryBuffer]:
        return buffer(**kwargs), ChatMemoryBuffer.from_defaults(**kwargs)

    return make


def test_get_when_initial_tokens_exceed_limit_raises_value_error(both: Any) -> None:
    ours, reference = both(token_limit=49)
    assert _outcome(lambda: ours.get(50)) == _outcome(lambda: reference.get(50))


def test_get_when_initial_tokens_same_as_limit_removes_message(both: Any) -> None:
    ours, reference = both(token_limit=5, chat_history=[USER_CHAT_MESSAGE])
    assert _outcome(lambda: ours.get(5)) == _outcome(lambda: reference.get(5))


def test_get_when_space_for_assistant_message_removes_assistant_message_at_start_of_history(
    both: Any,
) -> None:
    ours, reference = both(token_limit=5, chat_history=[USER_CHAT_MESSAGE, ASSISTANT_CHAT_MESSAGE])
    initial = 5 - USER_CHAT_MESSAGE_TOKENS
    assert _outcome(lambda: ours.get(initial)) == _outcome(lambda: reference.get(initial))


def test_get_when_space_for_second_message_and_answer_removes_only_first_message_and_answer(
    both: Any,
) -> None:
    ours, reference = both(token_limit=5, chat_history=FOUR)
    initial = 5 - USER_CHAT_MESSAGE_TOKENS - ASSISTANT_CHAT_MESSAGE_TOKENS
    assert _outcome(lambda: ours.get(initial)) == _outcome(lambda: reference.get(initial))


def test_get_when_space_for_all_but_first_message_removes_first_message_and_answer(
    both: Any,
) -> None:
    history_tokens = (
        ASSISTANT_CHAT_MESSAGE_TOKENS
        + USER_CHAT_MESSAGE_TOKENS
        + SECOND_ASSISTANT_CHAT_MESSAGE_TOKENS
    )
    ours, reference = both(token_limit=10, chat_history=FOUR)
    initial = 10 - history_tokens
    assert _outcome(lambda: ours.get(initial)) == _outcome(lambda: reference.get(initial))


def test_set(buffer: Any) -> None:
    memory = buffer(chat_history=[USER_CHAT_MESSAGE])
    memory.put(USER_CHAT_MESSAGE)
    assert len(memory.get()) == 2
    memory.set([USER_CHAT_MESSAGE])
    assert len(memory.get()) == 1


def test_max_tokens(buffer: Any) -> None:
    memory = buffer(chat_history=[USER_CHAT_MESSAGE], token_limit=5)
    memory.put(USER_CHAT_MESSAGE)
    assert len(memory.get()) == 2
    memory.put(USER_CHAT_MESSAGE)
    memory.put(USER_CHAT_MESSAGE)
    assert len(memory.get()) == 2
    assert len(memory.get_all()) == 4
    memory.put(ChatMessage(role=MessageRole.USER, content="test message2"))
    assert memory.get()[-1].content == "test message2" and len(memory.get()) == 2


def _reload(saved: dict[str, Any]) -> ChatMemoryBuffer:
    """docs/llama_index.md's route: rebuild the chat store with its own class."""
    data = dict(saved)
    return ChatMemoryBuffer(
        chat_store=AgentMemoryBaseChatStore.model_validate(data.pop("chat_store")), **data
    )


def test_sting_save_load(buffer: Any) -> None:
    """Upstream reloads with ``from_string``, whose loader knows only SimpleChatStore: with this
    store it raises (documented), and the documented route restores the buffer instead."""
    memory = buffer(chat_history=[USER_CHAT_MESSAGE], token_limit=5)
    json_str = memory.to_string()
    with pytest.raises(ValueError, match="Invalid ChatStore name"):
        ChatMemoryBuffer.from_string(json_str)
    new_memory = _reload(json.loads(json_str))
    assert len(new_memory.get()) == 1 and new_memory.token_limit == 5


def test_dict_save_load(buffer: Any) -> None:
    memory = buffer(chat_history=[USER_CHAT_MESSAGE], token_limit=5)
    json_dict = memory.to_dict()
    with pytest.raises(ValueError, match="Invalid ChatStore name"):
        ChatMemoryBuffer.from_dict(dict(json_dict))
    new_memory = _reload(json_dict)
    assert len(new_memory.get()) == 1 and new_memory.token_limit == 5


def test_pickle(buffer: Any) -> None:
    memory = buffer()
    assert isinstance(pickle.loads(pickle.dumps(memory)), ChatMemoryBuffer)
