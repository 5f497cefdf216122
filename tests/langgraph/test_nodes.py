"""The turn as LangGraph nodes: a later thread's model call sees an earlier thread's facts."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph

from memory_integrations import AgentMemoryClient
from memory_integrations.langgraph import AgentMemoryNodes, AgentMemorySaver, MemoryState
from memory_integrations.turn import TurnConfig

from ..langchain._fakes import ScriptedChatModel


def build_graph(client: AgentMemoryClient, model: ScriptedChatModel) -> Any:
    nodes = AgentMemoryNodes(client, user_id="ana", turn_config=TurnConfig(async_processing=False))

    def call_model(state: MemoryState) -> dict[str, Any]:
        context = state.get("memory_context")
        prompt = ([SystemMessage(context)] if context else []) + list(state["messages"])
        return {"messages": [model.invoke(prompt)]}

    builder = StateGraph(MemoryState)
    builder.add_node("recall", nodes.recall)
    builder.add_node("model", call_model)
    builder.add_node("persist", nodes.persist)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "model")
    builder.add_edge("model", "persist")
    return builder.compile(checkpointer=AgentMemorySaver(client))


def test_recall_and_persist_nodes_carry_memory_across_threads(client: AgentMemoryClient) -> None:
    model = ScriptedChatModel(script=["Noted: you love vegetarian food.", "Try Ao 26 in Lisbon."])
    graph = build_graph(client, model)
    graph.invoke(
        {"messages": [HumanMessage("I'm vegetarian and I love food markets.")]},
        {"configurable": {"thread_id": "trip-1"}},
    )
    graph.invoke(
        {"messages": [HumanMessage("Where should I eat vegetarian food in Lisbon?")]},
        {"configurable": {"thread_id": "trip-2"}},
    )
    second_prompt = model.prompts[1]
    assert isinstance(second_prompt[0], SystemMessage)
    assert "I'm vegetarian and I love food markets." in str(second_prompt[0].content)
    sessions = client.get_user("ana").list_sessions()
    assert {s.session_id for s in sessions.sessions} == {"trip-1", "trip-2"}
    state = graph.get_state({"configurable": {"thread_id": "trip-2"}}).values
    assert all(not isinstance(m, SystemMessage) for m in state["messages"])  # state stays clean


async def test_pre_model_hook_and_async_nodes(client: AgentMemoryClient) -> None:
    nodes = AgentMemoryNodes(
        client, user_id="bo", session_id="s1", turn_config=TurnConfig(async_processing=False)
    )
    config: Any = {"configurable": {}}
    state = {
        "messages": [HumanMessage("My passport expires in March.")],
    }
    await nodes.apersist({**state, "messages": [*state["messages"]]}, config)
    hook = nodes.pre_model_hook(
        {"messages": [HumanMessage("When does my passport expire?")]}, config
    )
    first = hook["llm_input_messages"][0]
    assert isinstance(first, SystemMessage) and "passport expires in March" in str(first.content)
    recalled = await nodes.arecall({"messages": [HumanMessage("passport?")]}, config)
    assert "passport" in recalled["memory_context"]
