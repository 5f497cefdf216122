"""``AgentMemory`` as the memory of LlamaIndex agents and chat engines."""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.chat_engine import CondensePlusContextChatEngine, SimpleChatEngine
from llama_index.core.llms import MockLLM
from llama_index.core.workflow import Context, JsonSerializer

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.llama_index import AgentMemory, AgentMemoryRetriever
from tests.llama_index._fakes import PromptRecorder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:inspect")

FACT = "I am allergic to peanuts and my dog is called Rex."


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.ASSISTANT, content=text)


# --- agents ---------------------------------------------------------------------------------


async def test_function_agent_recalls_a_fact_from_an_earlier_conversation(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    agent = FunctionAgent(llm=recorder.llm(), tools=[], system_prompt="You are a pet-sitter.")

    first = AgentMemory.from_client(client, user_id="alice", session_id="monday")
    await agent.run(user_msg=FACT, memory=first)
    assert "Rex" not in recorder.system_text()  # nothing to recall yet

    second = AgentMemory.from_client(client, user_id="alice", session_id="tuesday")
    answer = await agent.run(user_msg="What is my dog called?", memory=second)

    prompt = recorder.last
    # The agent's own system prompt, then our memory, then this conversation only.
    assert [m.role for m in prompt] == [MessageRole.SYSTEM, MessageRole.SYSTEM, MessageRole.USER]
    assert prompt[0].content == "You are a pet-sitter."
    assert f"- user: {FACT}" in (prompt[1].content or "")
    assert prompt[2].content == "What is my dog called?"
    assert str(answer) == "noted: What is my dog called?"
    # Both turns of the second conversation were persisted to its session.
    assert [m.content for m in second.get_all()] == [
        "What is my dog called?",
        "noted: What is my dog called?",
    ]


async def test_other_users_memories_are_never_recalled(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    agent = FunctionAgent(llm=recorder.llm(), tools=[])
    await agent.run(user_msg=FACT, memory=AgentMemory.from_client(client, user_id="alice"))
    await agent.run(
        user_msg="What is my dog called?", memory=AgentMemory.from_client(client, user_id="bob")
    )
    assert "Rex" not in recorder.last_text()


async def test_agent_workflow_runs_with_agent_memory(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    helper = FunctionAgent(
        name="helper", description="Answers questions.", llm=recorder.llm(), tools=[]
    )
    workflow = AgentWorkflow(agents=[helper], root_agent="helper")
    await workflow.run(user_msg=FACT, memory=AgentMemory.from_client(client, user_id="alice"))
    later = AgentMemory.from_client(client, user_id="alice", session_id="later")
    await workflow.run(user_msg="Any allergies I told you about?", memory=later)
    assert "allergic to peanuts" in recorder.system_text()


async def test_context_round_trip_restores_the_memory(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    agent = FunctionAgent(llm=recorder.llm(), tools=[])
    memory = AgentMemory.from_client(client, user_id="alice", session_id="chat", k=3)
    ctx = Context(agent)
    await agent.run(user_msg=FACT, memory=memory, ctx=ctx)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the store warns when it has to drop "memory"
        data = json.loads(json.dumps(ctx.to_dict(serializer=JsonSerializer())))
    restored = Context.from_dict(agent, data, serializer=JsonSerializer())
    rebuilt = await restored.store.get("memory")

    assert isinstance(rebuilt, AgentMemory)
    assert rebuilt is not memory
    assert (rebuilt.user_id, rebuilt.session_id, rebuilt.k) == ("alice", "chat", 3)
    assert rebuilt.path == memory.path and rebuilt.embedder == "hashing:384"

    await agent.run(user_msg="What did I tell you?", ctx=restored)
    assert [(m.role, m.content) for m in recorder.last[-3:]] == [
        (MessageRole.USER, FACT),
        (MessageRole.ASSISTANT, f"noted: {FACT}"),
        (MessageRole.USER, "What did I tell you?"),
    ]


# --- chat engines ---------------------------------------------------------------------------


def test_simple_chat_engine_recalls_across_conversations(client: AgentMemoryClient) -> None:
    # MockLLM answers with its prompt, so the answer shows what reached the model.
    first = SimpleChatEngine.from_defaults(
        llm=MockLLM(), memory=AgentMemory.from_client(client, user_id="alice", session_id="a")
    )
    first.chat("I moved to Lisbon last spring.")
    second_memory = AgentMemory.from_client(client, user_id="alice", session_id="b")
    second = SimpleChatEngine.from_defaults(llm=MockLLM(), memory=second_memory)

    answer = second.chat("Which city do I live in?").response

    assert "- user: I moved to Lisbon last spring." in answer
    assert answer.rstrip().endswith("user: Which city do I live in?\nassistant:")
    assert [m.role for m in second.chat_history] == [MessageRole.USER, MessageRole.ASSISTANT]


async def test_simple_chat_engine_async_path(client: AgentMemoryClient) -> None:
    engine = SimpleChatEngine.from_defaults(
        llm=MockLLM(), memory=AgentMemory.from_client(client, user_id="alice", session_id="a")
    )
    await engine.achat("My favourite tea is genmaicha.")
    later = SimpleChatEngine.from_defaults(
        llm=MockLLM(), memory=AgentMemory.from_client(client, user_id="alice", session_id="b")
    )
    answer = (await later.achat("Which tea do I like?")).response
    assert "- user: My favourite tea is genmaicha." in answer


def test_condense_plus_context_chat_engine_with_memory_and_retriever(
    client: AgentMemoryClient,
) -> None:
    first = SimpleChatEngine.from_defaults(
        llm=MockLLM(), memory=AgentMemory.from_client(client, user_id="alice", session_id="a")
    )
    first.chat("My passport number ends in 4471.")

    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=AgentMemoryRetriever(client=client, user_id="alice", k=2),
        llm=MockLLM(),
        memory=AgentMemory.from_client(client, user_id="alice", session_id="b"),
    )
    answer = engine.chat("What does my passport number end in?").response

    # Recalled once by the memory (system message) and once by the retriever (context).
    assert answer.count("My passport number ends in 4471.") >= 2
    assert engine.chat_history[-2].content == "What does my passport number end in?"
    engine.reset()
    assert engine.chat_history == []


# --- BaseMemory behaviour -------------------------------------------------------------------


def test_messages_round_trip_exactly(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice")
    messages = [
        ChatMessage(
            role=MessageRole.USER,
            blocks=[TextBlock(text="What is in this picture?"), ImageBlock(image=b"\x89PNG")],
        ),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="describe", tool_kwargs={"n": 1})],
            additional_kwargs={"trace": [1, 2]},
        ),
        ChatMessage(
            role=MessageRole.TOOL, content="a cat", additional_kwargs={"tool_call_id": "c1"}
        ),
        ChatMessage(role=MessageRole.DEVELOPER, content="be brief"),
    ]
    memory.put_messages(messages)
    assert memory.get_all() == messages
    # The tool call is stored with searchable text, so it can be recalled too.
    hits = client.get_user("alice").search_memory("describe", {"relevant_k": 1})
    assert hits.memory_blocks[0].text == 'called tool describe with {"n": 1}'


def test_set_replaces_the_chat_and_keeps_a_shared_prefix(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s")
    memory.set([user("one"), assistant("two")])
    session = client.get_user("alice").get_session("s")
    before = [b.block_id for b in session.list_memories().memory_blocks]

    memory.set([user("one"), assistant("two"), user("three")])
    after = [b.block_id for b in session.list_memories().memory_blocks]
    assert after[:2] == before and len(after) == 3

    memory.set([user("other")])
    assert [m.content for m in memory.get_all()] == ["other"]
    assert session.count_memories() == 1


def test_reset_archives_the_chat_but_keeps_it_recallable(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s")
    memory.put(user(FACT))
    memory.reset()
    assert memory.get_all() == []
    recalled = memory.get("Is my dog called Rex?")
    assert recalled[0].role == MessageRole.SYSTEM
    assert FACT in (recalled[0].content or "")
    assert len(recalled) == 1


def test_reset_can_delete_instead(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s", on_reset="delete")
    memory.put(user(FACT))
    memory.reset()
    assert memory.get("Is my dog called Rex?") == []
    assert client.get_user("alice").get_session("s").count_memories() == 0


def test_get_without_memories_is_the_plain_history(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice")
    assert memory.get() == []
    memory.put(user("hello"))
    # The only matching block is in the history already, so nothing is injected.
    assert memory.get() == [user("hello")]


def test_history_window_starts_at_a_user_message(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", max_messages=3, k=1)
    call = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[ToolCallBlock(tool_call_id="c", tool_name="t", tool_kwargs={})],
    )
    tool = ChatMessage(role=MessageRole.TOOL, content="result", additional_kwargs={"x": 1})
    memory.put_messages([user("q1"), call, tool, assistant("a1"), user("q2"), assistant("a2")])
    history = [m for m in memory.get() if m.role != MessageRole.SYSTEM]
    # The last three would start with the orphaned "a1"; the window starts at "q2".
    assert [m.content for m in history] == ["q2", "a2"]


def test_memories_merge_into_an_existing_system_message(client: AgentMemoryClient) -> None:
    AgentMemory.from_client(client, user_id="alice", session_id="old").put(user(FACT))
    memory = AgentMemory.from_client(client, user_id="alice", session_id="new")
    memory.set([ChatMessage(role=MessageRole.SYSTEM, content="Be kind."), user("My dog?")])

    messages = memory.get("What is my dog called?")

    assert [m.role for m in messages] == [MessageRole.SYSTEM, MessageRole.USER]
    text = messages[0].content or ""
    assert text.index(FACT) < text.index("Be kind.")
    assert memory.get_all()[0].content == "Be kind."  # the stored message is unchanged


def test_session_scope_recalls_only_this_session(client: AgentMemoryClient) -> None:
    AgentMemory.from_client(client, user_id="alice", session_id="old").put(user(FACT))
    memory = AgentMemory.from_client(client, user_id="alice", session_id="new", scope="session")
    memory.put(user("Tell me about Rex, my dog"))
    assert all(m.role != MessageRole.SYSTEM for m in memory.get())


def test_recall_respects_k_and_threshold(client: AgentMemoryClient) -> None:
    old = AgentMemory.from_client(client, user_id="alice", session_id="old")
    old.put_messages([user(f"fact {i} about the garden shed") for i in range(6)])
    memory = AgentMemory.from_client(client, user_id="alice", session_id="new", k=2)
    system = memory.get("garden shed")[0].content or ""
    assert system.count("\n- ") == 2

    strict = AgentMemory.from_client(client, user_id="alice", session_id="new", threshold=0.99)
    assert strict.get("garden shed") == []


async def test_async_methods_use_the_same_store(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s")
    await memory.aput(user("one"))
    await memory.aput_messages([assistant("two"), user(FACT)])
    assert [m.content for m in await memory.aget_all()] == ["one", "two", FACT]
    await memory.aset([user("only")])
    assert [m.content for m in memory.get_all()] == ["only"]
    AgentMemory.from_client(client, user_id="alice", session_id="t").put(user(FACT))
    recalled = await memory.aget("my dog Rex")
    assert FACT in (recalled[0].content or "")
    await memory.areset()
    assert await memory.aget_all() == []


async def test_an_async_client_is_accepted(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(AsyncAgentMemoryClient.from_client(client), user_id="al")
    await memory.aput(user("hi"))
    assert memory.client is client
    assert [m.content for m in await memory.aget_all()] == ["hi"]


def test_from_defaults_sets_the_initial_history(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_defaults(
        user_id="alice", client=client, session_id="s", chat_history=[user("hi")]
    )
    assert memory.get_all() == [user("hi")]
    assert memory.class_name() == "AgentMemory"


def test_memory_serialises_by_fields_only(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="alice", session_id="s", max_messages=7)
    memory.put(user("hi"))
    data = memory.to_dict()
    assert data["class_name"] == "AgentMemory"
    assert {"user_id", "session_id", "path", "embedder", "max_messages"} <= data.keys()
    json.dumps(data)  # plain JSON
    for clone in (
        AgentMemory.from_dict(data),
        AgentMemory.model_validate(memory.model_dump()),
        copy.deepcopy(memory),
        pickle.loads(pickle.dumps(memory)),
    ):
        assert clone.max_messages == 7
        assert clone.client is client  # the same process reuses the open client
        assert clone.get_all() == [user("hi")]


def test_memory_opens_the_store_from_its_path(tmp_path: Path) -> None:
    path = f"{tmp_path}/lazy.sqlite3"
    memory = AgentMemory(user_id="alice", session_id="s", path=path, embedder="hashing")
    memory.put(user(FACT))
    other = AgentMemory(user_id="alice", session_id="t", path=path, embedder="hashing")
    assert other.client is memory.client
    assert FACT in (other.get("my dog Rex")[0].content or "")
    memory.client.close()


def test_a_closed_client_is_reopened_from_the_fields(tmp_path: Path) -> None:
    with AgentMemoryClient(tmp_path / "m.db", embedder=HashingEmbedder(64)) as first:
        memory = AgentMemory.from_client(first, user_id="alice", session_id="s")
        memory.put(user("hi"))
    assert memory.embedder == "hashing:64"  # enough to reopen the store with its embedder
    reopened = memory.client
    assert reopened is not first
    assert memory.get_all() == [user("hi")]
    reopened.close()


@pytest.mark.parametrize("bad", [{"max_messages": 0}, {"k": 0}, {"on_reset": "forget"}])
def test_invalid_settings_are_rejected(client: AgentMemoryClient, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AgentMemory.from_client(client, user_id="alice", **bad)


# --- tool plumbing ----------------------------------------------------------------------------


def recalled_text(memory: AgentMemory, query: str) -> str:
    """The memory text ``get`` puts in front of the chat for ``query`` ('' if none)."""
    messages = memory.get(query)
    if messages and messages[0].role == MessageRole.SYSTEM:
        return messages[0].content or ""
    return ""


async def test_tool_calls_and_results_stay_in_the_chat_but_are_never_recalled(
    client: AgentMemoryClient,
) -> None:
    from llama_index.core.tools import FunctionTool

    def lookup_pet(name: str) -> str:
        """Look a pet up in the kennel register."""
        return f"kennel register: {name} is a beagle, kennel 7"

    recorder = PromptRecorder(tool_call=("lookup_pet", {"name": "Rex"}))
    agent = FunctionAgent(llm=recorder.llm(), tools=[FunctionTool.from_defaults(lookup_pet)])
    first = AgentMemory.from_client(client, user_id="alice", session_id="monday")
    await agent.run(user_msg="Which kennel is my dog Rex in?", memory=first)

    # The whole exchange is in the chat history, tool call and result included, in order.
    roles = [m.role for m in first.get_all()]
    assert roles == [
        MessageRole.USER,
        MessageRole.ASSISTANT,
        MessageRole.TOOL,
        MessageRole.ASSISTANT,
    ]

    # A later conversation recalls what was said, not the plumbing, even with room for more.
    second = AgentMemory.from_client(client, user_id="alice", session_id="tuesday", k=10)
    recalled = recalled_text(second, "kennel Rex lookup_pet beagle")
    assert "Which kennel is my dog Rex in?" in recalled
    assert "tool said: kennel register" in recalled  # the assistant's answer is a memory
    assert "called tool" not in recalled
    assert "- tool:" not in recalled

    retrieved = AgentMemoryRetriever(client, user_id="alice", k=10).retrieve("kennel Rex beagle")
    texts = [node.node.get_content() for node in retrieved]
    assert texts and not any("called tool" in t or t.startswith("kennel register") for t in texts)
    # Asking for a role explicitly still finds the tool results.
    tool_results = AgentMemoryRetriever(client, user_id="alice", filters={"role": "tool"}).retrieve(
        "kennel"
    )
    assert [node.node.get_content() for node in tool_results] == [
        "kennel register: Rex is a beagle, kennel 7"
    ]


def test_plumbing_never_crowds_out_memories(client: AgentMemoryClient) -> None:
    memory = AgentMemory.from_client(client, user_id="bob", session_id="s1", k=2)
    call = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[ToolCallBlock(tool_call_id="c", tool_name="weather", tool_kwargs={"city": "Oslo"})],
    )
    noise = [call, ChatMessage(role=MessageRole.TOOL, content="weather in Oslo: rain")] * 30
    memory.put_messages([user("I live in Oslo and love the rain."), *noise])
    memory.reset()  # archive the chat: all of it is searchable now, none of it shown
    later = AgentMemory.from_client(client, user_id="bob", session_id="s2", k=2)
    recalled = recalled_text(later, "weather in Oslo rain")
    assert "I live in Oslo and love the rain." in recalled
    assert "weather in Oslo: rain" not in recalled
