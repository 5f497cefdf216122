"""create_memory_tools: direct calls, scoping, errors, and a real create_agent loop."""

from __future__ import annotations

import re

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient
from memory_integrations.langchain import create_memory_tools
from tests.langchain._fakes import ScriptedChatModel, tool_call


def ids_in(text: str) -> list[str]:
    return re.findall(r"\[id: ([^\]]+)\]", text)


def test_schemas_and_descriptions_an_llm_can_follow(client: AgentMemoryClient) -> None:
    save, search, forget = create_memory_tools(client, user_id="alice", session_id="s")
    assert [t.name for t in (save, search, forget)] == [
        "save_memory",
        "search_memory",
        "forget_memory",
    ]
    assert list(save.tool_call_schema.model_json_schema()["properties"]) == ["fact"]
    assert list(search.tool_call_schema.model_json_schema()["properties"]) == ["query"]
    assert list(forget.tool_call_schema.model_json_schema()["properties"]) == ["memory_id"]
    for tool in (save, search, forget):
        assert len(tool.description) > 80
        props = tool.tool_call_schema.model_json_schema()["properties"]
        assert all(p.get("description") for p in props.values())
    only = create_memory_tools(client, user_id="alice", session_id="s", include=["search"])
    assert [t.name for t in only] == ["search_memory"]
    with pytest.raises(ValueError, match="unknown memory tool"):
        create_memory_tools(client, user_id="alice", include=["remember"])  # type: ignore[list-item]


def test_save_search_forget(client: AgentMemoryClient) -> None:
    save, search, forget = create_memory_tools(client, user_id="alice", session_id="s")
    saved = save.invoke({"fact": "Alice is vegetarian."})
    assert saved.startswith("Saved memory ")
    # Saved facts are searchable at once.
    found = search.invoke({"query": "what does Alice eat"})
    assert "Alice is vegetarian." in found
    [block_id] = ids_in(found)
    assert block_id in saved
    assert "Forgot memory" in forget.invoke({"memory_id": block_id})
    assert search.invoke({"query": "what does Alice eat"}) == "No relevant memories found."
    # Errors come back as text the model can act on.
    again = forget.invoke({"memory_id": block_id})
    assert "No memory with id" in again
    assert "Use search_memory" in again
    assert "Nothing deleted" in forget.invoke({"memory_id": "bad/id"})
    assert "query is empty" in search.invoke({"query": "  "})
    assert "Nothing saved" in save.invoke({"fact": "   "})


def test_forget_never_reaches_outside_the_users_scope(client: AgentMemoryClient) -> None:
    bob_session = client.get_or_create_user("bob").get_or_create_session("s")
    bobs = bob_session.add_memory(facts=["Bob's secret."], async_processing=False).block_ids[0]
    alice_tools = create_memory_tools(client, user_id="alice", session_id="s")
    assert "No memory with id" in alice_tools[2].invoke({"memory_id": bobs})
    assert bob_session.get_memory_block(bobs).fact == "Bob's secret."
    # A session-scoped tool set cannot delete the user's memories in other sessions.
    other = client.get_or_create_user("alice").get_or_create_session("other")
    elsewhere = other.add_memory(facts=["Alice likes jazz."], async_processing=False)
    scoped = create_memory_tools(client, user_id="alice", session_id="s", scope="session")
    assert "jazz" not in scoped[1].invoke({"query": "jazz"})
    assert "No memory with id" in scoped[2].invoke({"memory_id": elsewhere.block_ids[0]})
    assert other.count_memories() == 1


def test_annotations_tag_and_restrict(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("alice").get_or_create_session("s")
    untagged = session.add_memory(facts=["Alice likes jazz."], async_processing=False)
    save, search, forget = create_memory_tools(
        client, user_id="alice", session_id="s", annotations={"agent": "music"}
    )
    save.invoke({"fact": "Alice plays the piano."})
    found = search.invoke({"query": "Alice music jazz piano"})
    assert "piano" in found and "jazz" not in found
    assert "No memory with id" in forget.invoke({"memory_id": untagged.block_ids[0]})
    tagged = [b for b in session.list_memories().memory_blocks if b.annotations]
    assert [b.annotations for b in tagged] == [{"agent": "music"}]


async def test_async_tools(client: AgentMemoryClient) -> None:
    aclient = AsyncAgentMemoryClient.from_client(client)
    save, search, forget = create_memory_tools(aclient, user_id="alice", session_id="s")
    await save.ainvoke({"fact": "Alice's passport expires in 2031."})
    found = await search.ainvoke({"query": "passport"})
    assert "2031" in found
    assert "Forgot" in await forget.ainvoke({"memory_id": ids_in(found)[0]})
    assert "No memory with id" in await forget.ainvoke({"memory_id": ids_in(found)[0]})


def test_ids_from_the_run_config(client: AgentMemoryClient) -> None:
    save, search, _ = create_memory_tools(client)
    config = {"configurable": {"user_id": "carol", "thread_id": "t1"}}
    save.invoke({"fact": "Carol is allergic to nuts."}, config)
    assert client.get_user("carol").get_session("t1").count_memories() == 1
    assert "nuts" in search.invoke({"query": "allergies"}, config)
    with pytest.raises(ValueError, match="no user id"):
        search.invoke({"query": "allergies"})


def _result_of(prompt: list[BaseMessage]) -> str:
    return [m for m in prompt if isinstance(m, ToolMessage)][-1].text


def scripted_memory_agent_model() -> ScriptedChatModel:
    """Three conversations with a real agent loop: save, recall, then forget."""

    def forget_first_hit(prompt: list[BaseMessage]) -> AIMessage:
        return tool_call("forget_memory", {"memory_id": ids_in(_result_of(prompt))[0]}, "c4")

    return ScriptedChatModel(
        script=[
            # Conversation 1: the model decides to remember what the user said.
            tool_call("save_memory", {"fact": "The user's favourite colour is teal."}, "c1"),
            "I'll remember that.",
            # Conversation 2 (a new thread): it searches memory before answering.
            tool_call("search_memory", {"query": "favourite colour"}, "c2"),
            lambda prompt: f"From memory: {_result_of(prompt).splitlines()[1]}",
            # Conversation 3: it forgets the memory it finds.
            tool_call("search_memory", {"query": "favourite colour"}, "c3"),
            forget_first_hit,
            "Forgotten.",
        ]
    )


def test_tools_in_a_create_agent_loop(client: AgentMemoryClient) -> None:
    model = scripted_memory_agent_model()
    agent = create_agent(
        model,
        tools=create_memory_tools(client, user_id="alice"),
        system_prompt="You are a helpful assistant with long-term memory.",
        checkpointer=InMemorySaver(),
    )

    def say(thread: str, text: str) -> str:
        state = agent.invoke(
            {"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread}}
        )
        return state["messages"][-1].text

    assert say("conversation-1", "My favourite colour is teal.") == "I'll remember that."
    assert model.bound_tools[0] == ["save_memory", "search_memory", "forget_memory"]
    assert client.get_user("alice").get_session("conversation-1").count_memories() == 1

    answer = say("conversation-2", "What is my favourite colour?")
    # The fact saved in the first conversation reached the model's prompt in the second.
    assert "The user's favourite colour is teal." in _result_of(model.prompts[3])
    assert "teal" in answer

    assert say("conversation-3", "Please forget my favourite colour.") == "Forgotten."
    assert "Forgot memory" in _result_of(model.last_prompt)
    assert client.get_user("alice").count_memories() == 0


async def test_tools_in_an_async_create_agent_loop(client: AgentMemoryClient) -> None:
    model = scripted_memory_agent_model()
    aclient = AsyncAgentMemoryClient.from_client(client)
    agent = create_agent(model, tools=create_memory_tools(aclient, user_id="alice"))
    for thread, text in (
        ("a1", "My favourite colour is teal."),
        ("a2", "What is my favourite colour?"),
    ):
        await agent.ainvoke(
            {"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread}}
        )
    assert "The user's favourite colour is teal." in _result_of(model.prompts[3])
    assert model.prompts[3][-1].text.startswith("Memories, most relevant first:")
