"""Port of LlamaIndex ``llama-index-core/tests/memory/test_chat_summary_memory_buffer.py``
(``ChatSummaryMemoryBuffer``) with ``AgentMemoryBaseChatStore`` as its chat store.
See tests/upstream/README.md.

The ported file targets another llama-index-core release than the installed 0.14.25: it names
the summarizer ``summarizer_llm=`` and the budget ``token_limit_full_text=`` (here ``llm=`` and
``token_limit=``) and expects other trimming and loading results. So each scenario runs twice,
on our store and on LlamaIndex's own ``SimpleChatStore``, and what a caller observes must be
the same; the reload test takes the route docs/llama_index.md gives for this store.
"""

from __future__ import annotations

import json
import pickle
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.llms import ChatMessage, MessageRole, MockLLM
from llama_index.core.memory.chat_summary_memory_buffer import ChatSummaryMemoryBuffer
from llama_index.core.storage.chat_store import SimpleChatStore
from llama_index.core.utils import get_tokenizer
from pydantic import PrivateAttr

from memory_integrations.llama_index import AgentMemoryBaseChatStore

tokenizer = get_tokenizer()
USER_CHAT_MESSAGE = ChatMessage(role=MessageRole.USER, content="first message")
LONG_USER_CHAT_MESSAGE = ChatMessage(
    role=MessageRole.USER,
    content="This is a message that is longer than the proposed token length" * 10,
)
LONG_RUNNING_CONVERSATION = [
    ChatMessage(
        role=MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT, content=f"Message {i}"
    )
    for i in range(5)
]
FIRST_SUMMARY_RESPONSE = (
    "First, the user asked what an LLM was, and the assistant explained the basic ideas."
)
SECOND_SUMMARY_RESPONSE = "The conversation started about LLMs. It then continued about LlamaIndex."


class MockSummarizerLLM(MockLLM):
    """Answers each summary request with the next canned text, cut to ``max_tokens`` words."""

    _calls: int = PrivateAttr()
    _responses: list[str] = PrivateAttr()
    _max_tokens: int = PrivateAttr()

    def __init__(self, max_tokens: int = 512) -> None:
        super().__init__()
        self._calls, self._max_tokens = 0, max_tokens
        self._responses = [FIRST_SUMMARY_RESPONSE, SECOND_SUMMARY_RESPONSE]

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        words = self._responses[self._calls].split(" ")[: self._max_tokens]
        self._calls += 1
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=" ".join(words))
        )


Scenario = Callable[[Callable[..., ChatSummaryMemoryBuffer]], Any]


@pytest.fixture
def same_as_simple_store(base_chat_store: AgentMemoryBaseChatStore) -> Callable[[Scenario], Any]:
    """Run a scenario on our store and on SimpleChatStore; they must observe the same."""

    def run(scenario: Scenario) -> Any:
        def ours(**kwargs: Any) -> ChatSummaryMemoryBuffer:
            key = f"summary-{uuid.uuid4().hex[:8]}"
            return ChatSummaryMemoryBuffer.from_defaults(
                chat_store=base_chat_store, chat_store_key=key, **kwargs
            )

        def reference(**kwargs: Any) -> ChatSummaryMemoryBuffer:
            return ChatSummaryMemoryBuffer.from_defaults(chat_store=SimpleChatStore(), **kwargs)

        observed = scenario(ours)
        assert observed == scenario(reference)
        return observed

    return run


def _view(messages: list[ChatMessage]) -> list[tuple[str, str | None]]:
    return [(MessageRole(m.role).value, m.content) for m in messages]


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ValueError as exc:
        return ("ValueError", str(exc))


def test_put_get(same_as_simple_store: Any) -> None:
    seen = same_as_simple_store(
        lambda make: _view(make(chat_history=[USER_CHAT_MESSAGE], llm=MockSummarizerLLM()).get())
    )
    assert seen == [("user", "first message")]  # upstream's expectation too


def test_put_get_summarize_long_message(same_as_simple_store: Any) -> None:
    same_as_simple_store(
        lambda make: _view(
            make(
                chat_history=[LONG_USER_CHAT_MESSAGE], token_limit=2, llm=MockSummarizerLLM()
            ).get()
        )
    )


def test_put_get_summarize_part_of_conversation(same_as_simple_store: Any) -> None:
    recent = sum(len(tokenizer(str(LONG_RUNNING_CONVERSATION[-i].content))) for i in range(1, 3))

    def scenario(make: Callable[..., ChatSummaryMemoryBuffer]) -> Any:
        memory = make(
            chat_history=LONG_RUNNING_CONVERSATION.copy(),
            token_limit=recent,
            llm=MockSummarizerLLM(),
        )
        first = _view(memory.get())
        memory.put(ChatMessage(role=MessageRole.USER, content="Message 5"))
        return first, _view(memory.get())

    same_as_simple_store(scenario)


def test_get_when_initial_tokens_less_than_limit_returns_history(same_as_simple_store: Any) -> None:
    seen = same_as_simple_store(
        lambda make: _view(make(token_limit=1000, chat_history=[USER_CHAT_MESSAGE]).get(5))
    )
    assert seen == [("user", "first message")]


def test_get_when_initial_tokens_exceed_limit_raises_value_error(same_as_simple_store: Any) -> None:
    same_as_simple_store(
        lambda make: _outcome(
            lambda: make(
                chat_history=[USER_CHAT_MESSAGE], token_limit=49, count_initial_tokens=True
            ).get(50)
        )
    )


def test_set(same_as_simple_store: Any) -> None:
    def scenario(make: Callable[..., ChatSummaryMemoryBuffer]) -> Any:
        memory = make(chat_history=[USER_CHAT_MESSAGE])
        memory.put(USER_CHAT_MESSAGE)
        two = len(memory.get())
        memory.set([USER_CHAT_MESSAGE])
        return two, len(memory.get())

    assert same_as_simple_store(scenario) == (2, 1)  # upstream's expectation too


def test_max_tokens_without_summarizer(same_as_simple_store: Any) -> None:
    def scenario(make: Callable[..., ChatSummaryMemoryBuffer]) -> Any:
        memory = make(chat_history=[USER_CHAT_MESSAGE], token_limit=5)
        seen = []
        memory.put(USER_CHAT_MESSAGE)
        seen.append(len(memory.get()))
        memory.put(USER_CHAT_MESSAGE)
        memory.put(USER_CHAT_MESSAGE)
        seen += [len(memory.get()), len(memory.get_all())]
        memory.put(ChatMessage(role=MessageRole.USER, content="test message2"))
        return [*seen, _view(memory.get())]

    same_as_simple_store(scenario)


def test_max_tokens_with_summarizer(same_as_simple_store: Any) -> None:
    def scenario(make: Callable[..., ChatSummaryMemoryBuffer]) -> Any:
        memory = make(
            llm=MockSummarizerLLM(max_tokens=1), chat_history=[USER_CHAT_MESSAGE], token_limit=5
        )
        memory.put(USER_CHAT_MESSAGE)
        memory.put(USER_CHAT_MESSAGE)
        first, stored = _view(memory.get()), len(memory.get_all())
        memory.put(ChatMessage(role=MessageRole.USER, content="test message2"))
        return first, stored, _view(memory.get())

    same_as_simple_store(scenario)


def test_sting_save_load(base_chat_store: AgentMemoryBaseChatStore) -> None:
    """Upstream expects from_string to refuse (NotImplementedError) in its release; the
    installed one reloads a SimpleChatStore buffer, and with this store its loader raises
    ValueError (it knows only SimpleChatStore). The documented route restores the buffer."""
    memory = ChatSummaryMemoryBuffer.from_defaults(
        chat_history=[USER_CHAT_MESSAGE],
        token_limit=5,
        chat_store=base_chat_store,
        chat_store_key="reload",
    )
    saved = memory.to_string()
    with pytest.raises((ValueError, NotImplementedError)):
        ChatSummaryMemoryBuffer.from_string(saved)
    data = json.loads(saved)
    store = AgentMemoryBaseChatStore.model_validate(data.pop("chat_store"))
    restored = ChatSummaryMemoryBuffer(chat_store=store, **data)
    assert _view(restored.get()) == [("user", "first message")] and restored.token_limit == 5


def test_dict_save_load(base_chat_store: AgentMemoryBaseChatStore) -> None:
    memory = ChatSummaryMemoryBuffer.from_defaults(
        chat_history=[USER_CHAT_MESSAGE],
        token_limit=5,
        chat_store=base_chat_store,
        chat_store_key="reload",
    )
    with pytest.raises((ValueError, NotImplementedError)):
        ChatSummaryMemoryBuffer.from_dict(memory.to_dict())


def test_pickle(base_chat_store: AgentMemoryBaseChatStore) -> None:
    memory = ChatSummaryMemoryBuffer.from_defaults(
        chat_store=base_chat_store, chat_store_key="pickled"
    )
    assert isinstance(pickle.loads(pickle.dumps(memory)), ChatSummaryMemoryBuffer)
