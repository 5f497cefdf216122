"""AgentMemoryStore wired into real graphs and agents, on SQLite and on PostgreSQL.

The chat model is a small scripted ``BaseChatModel`` that emits the tool calls of a script,
so the agent loop, tool injection (``ToolRuntime`` and ``InjectedStore``) and the store all
run for real; only the language model is scripted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain.tools import InjectedStore, ToolRuntime
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_store
from langgraph.func import entrypoint
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from pydantic import Field

from memory_integrations.embedders import HashingEmbedder
from memory_integrations.langgraph import AgentMemoryStore

INDEX: Any = {"dims": 384, "embed": HashingEmbedder(), "fields": ["text"]}


class ScriptedModel(BaseChatModel):
    """Answers each call with the next scripted step: a message, or a function of the prompt."""

    script: list[Any] = Field(default_factory=list)
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        step = self.script.pop(0) if self.script else "Done."
        if callable(step):
            step = step(messages)
        message = AIMessage(content=step) if isinstance(step, str) else step
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)


def call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def last_tool_result(messages: list[BaseMessage]) -> str:
    return next(m.text for m in reversed(messages) if isinstance(m, ToolMessage))


@dataclass
class Context:
    user_id: str


@tool
def save_memory(text: str, runtime: ToolRuntime[Context]) -> str:
    """Save one fact about the current user for later conversations."""
    store = runtime.store
    assert store is not None
    namespace = ("memories", runtime.context.user_id)
    key = f"m{len(store.search(namespace, limit=1000)) + 1}"
    store.put(namespace, key, {"text": text})
    return f"saved {key}"


@tool
def recall_memories(query: str, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Search every saved fact."""
    hits = store.search(("memories",), query=query, limit=2)
    return " | ".join(f"{h.namespace[-1]}: {h.value['text']}" for h in hits) or "nothing"


@pytest.fixture
def location(db_path: Any) -> str:
    return str(db_path)


@pytest.fixture
def open_store(location: str) -> Iterator[Callable[[], AgentMemoryStore]]:
    opened: list[AgentMemoryStore] = []

    def make() -> AgentMemoryStore:
        store = AgentMemoryStore(location, index=INDEX)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _saving_agent(store: AgentMemoryStore, model: ScriptedModel) -> Any:
    return create_agent(
        model,
        tools=[save_memory, recall_memories],
        context_schema=Context,
        checkpointer=InMemorySaver(),
        store=store,
    )


def test_agent_tools_write_and_read_the_store(open_store: Callable[[], AgentMemoryStore]) -> None:
    writer = ScriptedModel(
        script=[
            call("save_memory", {"text": "Ana's favourite colour is teal"}, "c1"),
            call("save_memory", {"text": "Ana is allergic to peanuts"}, "c2"),
            lambda messages: f"Noted ({last_tool_result(messages)}).",
        ]
    )
    agent = _saving_agent(open_store(), writer)
    result = agent.invoke(
        {"messages": [HumanMessage("Remember: teal is my colour; I can't eat peanuts.")]},
        config={"configurable": {"thread_id": "t1"}},
        context=Context(user_id="ana"),
    )
    assert result["messages"][-1].text == "Noted (saved m2)."
    tool_results = [m.text for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tool_results == ["saved m1", "saved m2"]

    # Another agent, another store object, another thread: long-term memory is shared.
    reader = ScriptedModel(
        script=[
            call("recall_memories", {"query": "favourite colour"}, "r1"),
            lambda messages: f"You told me: {last_tool_result(messages)}",
        ]
    )
    other = _saving_agent(open_store(), reader)
    answer = other.invoke(
        {"messages": [HumanMessage("What's my favourite colour?")]},
        config={"configurable": {"thread_id": "t2"}},
        context=Context(user_id="ana"),
    )["messages"][-1].text
    assert answer.startswith("You told me: ana: Ana's favourite colour is teal")
    assert "teal" in last_tool_result(reader.prompts[-1])


async def test_agent_async_run(open_store: Callable[[], AgentMemoryStore]) -> None:
    store = open_store()
    model = ScriptedModel(
        script=[
            call("save_memory", {"text": "Bo runs marathons"}, "a1"),
            call("recall_memories", {"query": "marathons"}, "a2"),
            lambda messages: last_tool_result(messages),
        ]
    )
    agent = _saving_agent(store, model)
    result = await agent.ainvoke(
        {"messages": [HumanMessage("I run marathons.")]},
        config={"configurable": {"thread_id": "t3"}},
        context=Context(user_id="bo"),
    )
    assert result["messages"][-1].text == "bo: Bo runs marathons"
    item = await store.aget(("memories", "bo"), "m1")
    assert item is not None and item.value == {"text": "Bo runs marathons"}


class State(TypedDict, total=False):
    user: str
    question: str
    answer: str


def remember(state: State, store: BaseStore) -> dict[str, Any]:
    user = state["user"]
    store.put(("profile", user), "hobby", {"text": f"{user} plays the cello on Sundays"})
    store.put(("profile", user), "city", {"text": f"{user} lives in Porto"})
    return {}


def answer_from_runtime(state: State, runtime: Runtime[None]) -> dict[str, Any]:
    assert runtime.store is not None
    hits = runtime.store.search(("profile", state["user"]), query=state["question"], limit=1)
    return {"answer": hits[0].value["text"] if hits else "unknown"}


def answer_from_get_store(state: State) -> dict[str, Any]:
    item = get_store().get(("profile", state["user"]), "city")
    return {"answer": item.value["text"] if item else "unknown"}


def test_state_graph_nodes_get_the_store(open_store: Callable[[], AgentMemoryStore]) -> None:
    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_node("answer", answer_from_runtime)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "answer")
    builder.add_edge("answer", END)
    graph = builder.compile(checkpointer=InMemorySaver(), store=open_store())
    out = graph.invoke(
        {"user": "zoe", "question": "what instrument does she play"},
        {"configurable": {"thread_id": "g1"}},
    )
    assert out["answer"] == "zoe plays the cello on Sundays"

    # A graph built later, on a fresh store object, reads what the first one stored.
    reader = StateGraph(State)
    reader.add_node("answer", answer_from_get_store)
    reader.add_edge(START, "answer")
    out = reader.compile(store=open_store()).invoke({"user": "zoe"})
    assert out["answer"] == "zoe lives in Porto"


async def test_async_graph_and_functional_api(open_store: Callable[[], AgentMemoryStore]) -> None:
    store = open_store()

    async def note(state: State, *, store: BaseStore) -> dict[str, Any]:
        await store.aput(("notes",), state["user"], {"text": f"{state['user']} likes figs"})
        hits = await store.asearch(("notes",), query="who likes figs")
        return {"answer": ", ".join(h.key for h in hits)}

    builder = StateGraph(State)
    builder.add_node("note", note)
    builder.add_edge(START, "note")
    graph = builder.compile(store=store)
    assert (await graph.ainvoke({"user": "ivo"}))["answer"] == "ivo"
    assert (await graph.ainvoke({"user": "eva"}))["answer"] in ("ivo, eva", "eva, ivo")

    @entrypoint(store=open_store())
    def count_notes(prefix: str, *, store: BaseStore) -> int:
        return len(store.search((prefix,), limit=100))

    assert count_notes.invoke("notes") == 2
    assert await count_notes.ainvoke("missing") == 0
