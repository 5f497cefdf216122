"""AgentMemoryMiddleware inside langchain.agents.create_agent."""

from __future__ import annotations

from dataclasses import dataclass

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient
from memory_integrations.langchain import AgentMemoryMiddleware
from memory_integrations.turn import TurnConfig
from tests.langchain._fakes import ScriptedChatModel, tool_call

SYNC = TurnConfig(async_processing=False)


@tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny in {city}."


def ask(agent: object, thread: str, text: str) -> dict[str, object]:
    return agent.invoke(  # type: ignore[attr-defined, no-any-return]
        {"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread}}
    )


def test_an_earlier_conversation_reaches_the_prompt(client: AgentMemoryClient) -> None:
    model = ScriptedChatModel(script=["Teal is a lovely colour.", "Your favourite is teal."])
    agent = create_agent(
        model,
        system_prompt="You are a friendly assistant.",
        middleware=[AgentMemoryMiddleware(client, user_id="alice", turn_config=SYNC)],
        checkpointer=InMemorySaver(),
    )
    ask(agent, "conversation-1", "My favourite colour is teal.")
    first_prompt = model.prompts[0]
    assert first_prompt[0] == SystemMessage("You are a friendly assistant.")

    state = ask(agent, "conversation-2", "What is my favourite colour?")
    prompt = model.last_prompt
    # One system message: the agent's prompt with the recalled memories merged in.
    assert [type(m) for m in prompt] == [SystemMessage, HumanMessage]
    assert prompt[0].text.startswith("You are a friendly assistant.\n\n")
    assert "user said: My favourite colour is teal." in prompt[0].text
    assert "assistant replied: Teal is a lovely colour." in prompt[0].text
    # Memories are injected per model call, not written into the conversation state.
    assert not any(isinstance(m, SystemMessage) for m in state["messages"])  # type: ignore[attr-defined]
    # Both exchanges were persisted, each in its thread's session.
    user = client.get_user("alice")
    assert sorted(user.sessions or []) == ["conversation-1", "conversation-2"]
    [block] = user.get_session("conversation-2").list_memories().memory_blocks
    assert block.message is not None
    assert block.message.user_content == "What is my favourite colour?"
    assert block.message.assistant_content == "Your favourite is teal."


def test_memories_reach_every_model_call_of_a_tool_loop(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("alice").get_or_create_session("earlier")
    session.add_memory(facts=["Alice lives in Porto."], async_processing=False)
    model = ScriptedChatModel(
        script=[tool_call("weather", {"city": "Porto"}, "w1"), "Sunny in Porto today."]
    )
    agent = create_agent(
        model,
        tools=[weather],
        middleware=[AgentMemoryMiddleware(client, user_id="alice", turn_config=SYNC)],
    )
    ask(agent, "now", "What's the weather where I live?")
    assert len(model.prompts) == 2
    for prompt in model.prompts:
        assert "Alice lives in Porto." in model.system_text(prompt)
    [block] = client.get_user("alice").get_session("now").list_memories().memory_blocks
    assert block.message is not None
    assert block.message.assistant_content == "Sunny in Porto today."


@dataclass
class Context:
    user_id: str


def test_ids_from_the_runtime_context_and_fixed_session(client: AgentMemoryClient) -> None:
    for user in ("alice", "bob"):
        session = client.get_or_create_user(user).get_or_create_session("profile")
        session.add_memory(facts=[f"{user.title()} plays chess."], async_processing=False)
    model = ScriptedChatModel()
    agent = create_agent(
        model,
        context_schema=Context,
        middleware=[AgentMemoryMiddleware(client, session_id="support", turn_config=SYNC)],
    )
    agent.invoke({"messages": [HumanMessage("Which game do I play?")]}, context=Context("bob"))
    system = model.system_text(model.last_prompt)
    assert "Bob plays chess." in system
    assert "Alice" not in system
    assert client.get_user("bob").get_session("support").count_memories() == 1


async def test_async_agent(client: AgentMemoryClient) -> None:
    aclient = AsyncAgentMemoryClient.from_client(client)
    model = ScriptedChatModel(script=["Noted, Lisbon in May.", "You go to Lisbon."])
    agent = create_agent(
        model,
        middleware=[AgentMemoryMiddleware(aclient, user_id="alice")],
        checkpointer=InMemorySaver(),
    )
    await agent.ainvoke(
        {"messages": [HumanMessage("I travel to Lisbon in May.")]},
        {"configurable": {"thread_id": "a1"}},
    )
    # Default persistence is asynchronous: wait for the embedding before the next conversation.
    await aclient.wait_until_processed()
    await agent.ainvoke(
        {"messages": [HumanMessage("Where do I travel in May?")]},
        {"configurable": {"thread_id": "a2"}},
    )
    assert "user said: I travel to Lisbon in May." in model.system_text(model.last_prompt)


def test_nothing_recalled_leaves_the_prompt_alone(client: AgentMemoryClient) -> None:
    model = ScriptedChatModel()
    agent = create_agent(
        model,
        system_prompt="Base prompt.",
        middleware=[AgentMemoryMiddleware(client, user_id="new", session_id="s")],
    )
    agent.invoke({"messages": [HumanMessage("Hello!")]})
    assert [(type(m), m.text) for m in model.last_prompt] == [
        (SystemMessage, "Base prompt."),
        (HumanMessage, "Hello!"),
    ]
