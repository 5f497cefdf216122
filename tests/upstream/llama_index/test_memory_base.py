"""Port of LlamaIndex ``llama-index-core/tests/memory/test_memory_base.py`` (``Memory``, whose
short-term queue lives in an ``AsyncDBChatStore``) with ``AgentMemoryChatStore`` as that store.
See tests/upstream/README.md. Upstream's ``Memory`` builds its default ``SQLAlchemyChatStore``;
here every ``Memory`` gets ``sql_store=`` ours (a fresh session per test)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.memory.memory import Memory
from llama_index.core.storage.chat_store.sql import MessageStatus

from memory_integrations.llama_index import AgentMemoryChatStore


@pytest.fixture
def make_memory(chat_store: AgentMemoryChatStore) -> Any:
    def make(**kwargs: Any) -> Memory:
        return Memory(sql_store=chat_store, **kwargs)

    return make


@pytest.fixture
def memory(make_memory: Any) -> Memory:
    memory: Memory = make_memory(
        token_limit=1000, token_flush_size=700, chat_history_token_ratio=0.9, session_id="test_user"
    )
    return memory


async def test_initialization(memory: Memory, chat_store: AgentMemoryChatStore) -> None:
    assert (memory.token_limit, memory.token_flush_size, memory.session_id) == (
        1000,
        700,
        "test_user",
    )
    assert memory.sql_store is chat_store


@pytest.mark.skip(reason="tests Memory._estimate_token_count, which no chat store takes part in")
def test_estimate_token_count() -> None:
    """Upstream: test_estimate_token_count_text / _image / _video / _audio / _document /
    _tool_call / _thinking / _citable_block."""


async def _tool_call_history(chat_store: AgentMemoryChatStore | None) -> int:
    extra: dict[str, Any] = {} if chat_store is None else {"chat_store": chat_store}
    memory = Memory.from_defaults(
        session_id="tool_flush",
        token_limit=50,
        token_flush_size=10,
        chat_history_token_ratio=1.0,
        tokenizer_fn=lambda text: text.split(),
        **extra,
    )
    big_args = {"query": "word " * 200}
    for i in range(10):
        await memory.aput(ChatMessage(role="user", content="hi"))
        await memory.aput(
            ChatMessage(
                role="assistant",
                blocks=[
                    ToolCallBlock(tool_call_id=f"c{i}", tool_name="search", tool_kwargs=big_args)
                ],
            )
        )
    return len(await memory.aget_all(status=MessageStatus.ACTIVE))


async def test_manage_queue_flushes_large_tool_calls(chat_store: AgentMemoryChatStore) -> None:
    """Upstream asserts fewer than 20 active messages: the fix that counts tool-call tokens is
    newer than the installed llama-index-core, whose own SQLAlchemyChatStore keeps all 20. So
    the port checks that ours keeps what LlamaIndex's store keeps, and upstream's bound when
    the installed Memory has the fix."""
    ours = await _tool_call_history(chat_store)
    reference = await _tool_call_history(None)  # Memory's default SQLAlchemyChatStore
    assert ours == reference
    if reference < 20:
        assert ours < 20


async def test_manage_queue_under_limit(memory: Memory) -> None:
    await memory.aput_messages([ChatMessage(role="user", content="Short message")])
    assert [m.content for m in await memory.aget()] == ["Short message"]


async def test_manage_queue_over_limit(memory: Memory) -> None:
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="x " * 500),
            ChatMessage(role="assistant", content="y " * 500),
            ChatMessage(role="user", content="z " * 500),
        ]
    )
    current = await memory.aget()
    assert len(current) == 1 and "z " in current[0].content  # type: ignore[operator]


async def test_aput(memory: Memory) -> None:
    await memory.aput(ChatMessage(role="user", content="New message"))
    assert [m.content for m in await memory.aget()] == ["New message"]


async def test_aput_messages(memory: Memory) -> None:
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="Message 1"),
            ChatMessage(role="assistant", content="Response 1"),
        ]
    )
    assert [m.content for m in await memory.aget()] == ["Message 1", "Response 1"]


async def test_aset(memory: Memory) -> None:
    await memory.aset(
        [
            ChatMessage(role="user", content="Message 1"),
            ChatMessage(role="assistant", content="Response 1"),
        ]
    )
    assert [m.content for m in await memory.aget()] == ["Message 1", "Response 1"]


async def test_aget_all(memory: Memory) -> None:
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="Message 1"),
            ChatMessage(role="assistant", content="Response 1"),
        ]
    )
    found = await memory.aget_all(status=MessageStatus.ACTIVE)
    assert [m.content for m in found] == ["Message 1", "Response 1"]


async def test_areset(memory: Memory) -> None:
    await memory.aput(ChatMessage(role="user", content="New message"))
    await memory.areset(status=MessageStatus.ACTIVE)
    assert await memory.aget() == []


async def test_manage_queue_first_message_must_be_user(make_memory: Any) -> None:
    memory = make_memory(
        token_limit=100,
        token_flush_size=50,
        chat_history_token_ratio=0.5,
        session_id="test_first_message_user",
    )
    await memory.aput_messages(
        [ChatMessage(role="user", content="x " * 100), ChatMessage(role="assistant", content="ok")]
    )
    current = await memory.aget()
    assert current, "the queue should not be empty after a flush"
    assert current[0].role == "user"


async def test_manage_queue_preserves_conversation_turn(make_memory: Any) -> None:
    memory = make_memory(
        token_limit=200,
        token_flush_size=100,
        chat_history_token_ratio=0.5,
        session_id="test_preserve_turn",
    )
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="a " * 50),
            ChatMessage(role="assistant", content="b " * 50),
            ChatMessage(role="user", content="c " * 50),
            ChatMessage(role="assistant", content="d " * 50),
        ]
    )
    current = await memory.aget()
    assert len(current) >= 2 and current[0].role == "user"
    for this, following in itertools.pairwise(current):
        if this.role == "user":
            assert following.role in ("assistant", "tool")


async def test_manage_queue_with_tool_messages(make_memory: Any) -> None:
    memory = make_memory(
        token_limit=150,
        token_flush_size=80,
        chat_history_token_ratio=0.5,
        session_id="test_tool_calling",
    )
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="a " * 40),
            ChatMessage(role="assistant", content="b " * 20),
            ChatMessage(role="tool", content="c " * 20),
            ChatMessage(role="assistant", content="d " * 20),
        ]
    )
    current = await memory.aget()
    assert current and current[0].role == "user"
    for i, message in enumerate(current):
        if message.role == "tool":
            assert i > 0 and current[i - 1].role in ("assistant", "tool")


async def test_manage_queue_only_tool_message_remaining(make_memory: Any) -> None:
    memory = make_memory(
        token_limit=80,
        token_flush_size=40,
        chat_history_token_ratio=0.5,
        session_id="test_only_tool",
    )
    await memory.aput_messages(
        [
            ChatMessage(role="user", content="x " * 50),
            ChatMessage(role="assistant", content="call"),
            ChatMessage(role="tool", content="result"),
        ]
    )
    current = await memory.aget()
    if current:
        assert current[0].role == "user"
