"""``AgentMemoryBlock`` and ``AgentMemoryChatStore`` inside LlamaIndex's ``Memory`` class."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus
from llama_index.core.workflow import Context, JsonSerializer

from memory_integrations import AgentMemoryClient
from memory_integrations.llama_index import AgentMemoryBlock, AgentMemoryChatStore
from tests.llama_index._fakes import PromptRecorder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:inspect")

TURNS = [
    "I work as a marine biologist in Lisbon.",
    "That sounds like a great job!",
    "My sister is named Ana and she plays the cello.",
    "What a lovely name.",
    "I prefer jazz over classical music.",
    "Good taste.",
]


def message(i: int, text: str) -> ChatMessage:
    role = MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT
    return ChatMessage(role=role, content=text)


def memory_for(
    client: AgentMemoryClient, session_id: str, *, small: bool = False, **block: Any
) -> Memory:
    limits: dict[str, Any] = {
        "token_limit": 40,
        "token_flush_size": 10,
        "chat_history_token_ratio": 0.5,
    }
    return Memory.from_defaults(
        session_id=session_id,
        chat_store=AgentMemoryChatStore.from_client(client, user_id="carol"),
        memory_blocks=[AgentMemoryBlock.from_client(client, user_id="carol", **block)],
        **(limits if small else {}),
    )


async def test_memory_class_recalls_an_earlier_conversation(client: AgentMemoryClient) -> None:
    first = memory_for(client, "monday")
    await first.aput_messages([message(i, t) for i, t in enumerate(TURNS)])

    second = memory_for(client, "tuesday")
    await second.aput(ChatMessage(role=MessageRole.USER, content="What instrument does Ana play?"))
    messages = await second.aget()

    assert [m.role for m in messages] == [MessageRole.SYSTEM, MessageRole.USER]
    system = messages[0].content or ""
    assert "<agent_memory>" in system
    assert "- user: My sister is named Ana and she plays the cello." in system
    # The short-term history is this conversation only, kept in the memory engine.
    assert messages[1].content == "What instrument does Ana play?"
    assert client.get_user("carol").get_session("tuesday").count_memories() == 1


async def test_flushed_messages_are_archived_once_and_stay_recallable(
    client: AgentMemoryClient,
) -> None:
    memory = memory_for(client, "monday", small=True)
    for i, text in enumerate(TURNS):
        await memory.aput(message(i, text))

    store = memory.sql_store
    active = await store.get_messages("monday")
    archived = await store.get_messages("monday", status=MessageStatus.ARCHIVED)
    assert archived, "the small token limit must have flushed some messages"
    assert [m.content for m in archived + active] == TURNS
    assert active[0].role == MessageRole.USER  # Memory keeps whole turns
    # The block saw the flushed messages but did not store a second copy.
    assert client.get_user("carol").get_session("monday").count_memories() == len(TURNS)

    # Within the same conversation, an archived message comes back through the block,
    # while messages still in the short-term history are not repeated.
    messages = await memory.aget(input="Where do I work?")
    system = messages[0].content or ""
    assert "marine biologist in Lisbon" in system
    for kept in active:
        assert f": {kept.content}\n" not in system


async def test_block_persists_flushed_messages_with_the_default_chat_store(
    client: AgentMemoryClient,
) -> None:
    block = AgentMemoryBlock.from_client(client, user_id="carol")
    memory = Memory.from_defaults(
        session_id="monday",
        memory_blocks=[block],
        token_limit=40,
        token_flush_size=10,
        chat_history_token_ratio=0.5,
    )
    for i, text in enumerate(TURNS):
        await memory.aput(message(i, text))

    stored = client.get_user("carol").get_session("monday").list_memories().memory_blocks
    assert 0 < len(stored) < len(TURNS)  # only what Memory flushed
    assert {b.annotations["chat_status"] for b in stored} == {"archived"}
    assert stored[0].text == TURNS[0]

    later = Memory.from_defaults(session_id="tuesday", memory_blocks=[block])
    messages = await later.aget(input="Where do I work as a biologist?")
    assert "marine biologist in Lisbon" in (messages[0].content or "")
    # The stored copy has no trace of the session stamp Memory adds to flushed messages.
    assert stored[0].metadata is not None
    assert "session_id" not in stored[0].metadata["llama_index"]["message"]["additional_kwargs"]


async def test_function_agent_with_memory_class(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    agent = FunctionAgent(llm=recorder.llm(), tools=[])
    await agent.run(user_msg=TURNS[2], memory=memory_for(client, "monday"))
    await agent.run(user_msg="Who is Ana?", memory=memory_for(client, "tuesday"))

    prompt = recorder.last
    assert prompt[0].role == MessageRole.SYSTEM
    assert f"- user: {TURNS[2]}" in (prompt[0].content or "")
    assert [m.content for m in prompt[1:]] == ["Who is Ana?"]


async def test_block_on_its_own(client: AgentMemoryClient) -> None:
    block = AgentMemoryBlock.from_client(client, user_id="carol", session_id="notes", k=1)
    await block.aput([message(0, TURNS[0]), message(2, TURNS[2])])
    assert client.get_user("carol").get_session("notes").count_memories() == 2
    await block.aput([message(0, TURNS[0])])  # already stored: not stored again
    assert client.get_user("carol").get_session("notes").count_memories() == 2

    text = await block.aget([ChatMessage(role=MessageRole.USER, content="Who plays the cello?")])
    assert text.count("\n- ") == 1 and "cello" in text
    assert await block.aget([]) == ""  # nothing to search for
    assert await block.aget(None) == ""


async def test_block_truncation_drops_the_least_relevant_lines(client: AgentMemoryClient) -> None:
    block = AgentMemoryBlock.from_client(client, user_id="carol")
    content = "Intro:\n- first memory here\n- second memory here\n- third memory here\nOutro."
    assert await block.atruncate(content, 3) == (
        "Intro:\n- first memory here\n- second memory here\nOutro."
    )
    assert await block.atruncate(content, 1000) is None


def test_block_serialises_by_fields(client: AgentMemoryClient) -> None:
    block = AgentMemoryBlock.from_client(client, user_id="carol", k=2, priority=1)
    clone = AgentMemoryBlock.model_validate(block.model_dump())
    assert (clone.k, clone.priority, clone.path, clone.name) == (2, 1, block.path, "agent_memory")
    assert clone.client is client


async def test_memory_class_resumes_a_saved_context(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    agent = FunctionAgent(llm=recorder.llm(), tools=[])
    ctx = Context(agent)
    await agent.run(user_msg=TURNS[0], memory=memory_for(client, "monday"), ctx=ctx)
    with pytest.warns(Warning, match="unserializable key: memory"):  # LlamaIndex limitation
        data = json.loads(json.dumps(ctx.to_dict(serializer=JsonSerializer())))
    restored = Context.from_dict(agent, data, serializer=JsonSerializer())

    # Pass the Memory again: its short-term history comes back from the chat store.
    await agent.run(user_msg="Where do I work?", memory=memory_for(client, "monday"), ctx=restored)
    assert [m.content for m in recorder.last if m.role != MessageRole.SYSTEM] == [
        TURNS[0],
        f"noted: {TURNS[0]}",
        "Where do I work?",
    ]
