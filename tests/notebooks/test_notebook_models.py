"""The notebooks' chat models: the env-var choice and the offline stand-ins of each framework."""

from __future__ import annotations

import importlib
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.offline import (
    ENV_VAR,
    OFFLINE_LABEL,
    OfflinePrompt,
    ToolCall,
    ToolSpec,
    chat_model_from_env,
    crewai_llm_from_env,
    is_offline,
    llama_index_llm_from_env,
    offline_reply,
    offline_respond,
    plan_tool_calls,
    remembered,
)
from memory_integrations.turn import render_memories

TURN_SYSTEM = (
    "You are a travel assistant.\n\n"
    "Relevant memories about this user from earlier conversations (most relevant first):\n"
    "- user said: I'm vegetarian. / assistant replied: [offline model] Noted: \"I'm vegetarian.\"\n"
    "- The user prefers aisle seats.\n"
    "- assistant: Lisbon is lovely in May.\n"
    "- user: I'm flying to Lisbon in May.\n"
    "Use them when they help; do not mention this list."
)

SEARCH_RESULT = (
    "Memories, most relevant first:\n"
    "1. [id: 0b1c] (fact, 2025-05-01) The user said: I prefer aisle seats.\n"
    "2. [id: 9f2e] (message, 2025-05-01) I'm vegetarian."
)

CREW_PROMPT = (
    "Current Task: Suggest where Alice should have dinner in Lisbon.\n\n"
    "This is the expected criteria for your final answer: Two suggestions.\n"
    "you MUST return the actual complete content as the final answer, not a summary.\n\n"
    "# Memories from past conversations:\n"
    "Relevant memories:\n"
    '- (score=0.69) [offline model] Noted: "I\'m vegetarian." I also remember: Porto.\n'
    "  categories: travel\n"
    "- (score=0.66) Alice's home airport is Porto (OPO).\n"
    "- (score=0.60) [offline model] From memory: I'm vegetarian.\n"
    "\n"
    "IMPORTANT: The memories above are an automatic selection and may be INCOMPLETE.\n\n"
    "Begin! This is VERY important to you, use the tools available and give your best "
    "Final Answer, your job depends on it!\n\nThought:"
)

LLAMA_CONTEXT = (
    "Context information is below.\n"
    "--------------------\n"
    "role: user\ncreated_at: 2025-05-01T10:00:00+00:00\n\nI'm vegetarian.\n\n"
    "role: assistant\ncreated_at: 2025-05-01T10:00:01+00:00\n\nNoted, vegetarian.\n\n"
    "created_at: 2025-05-01T10:00:02+00:00\n\nThe user prefers aisle seats.\n"
    "--------------------\n"
    "Answer the question."
)

CONDENSE_CONTEXT = (
    "  Here are the relevant documents for the context:\n\n"
    "  created_at: 2025-05-01T10:00:00+00:00\nrole: user\n\nI'm vegetarian.\n\n"
    "created_at: 2025-05-01T10:00:01+00:00\nrole: assistant\n\nEmpty Response\n\n"
    "  Instruction: Based on the above documents, provide a detailed answer.\n  Answer \"don't"
    ' know" if not present in the document.'
)

# What a LlamaIndex RetrieverTool returns: node texts with their LLM metadata, no header.
RETRIEVER_TOOL_OUTPUT = (
    "created_at: 2025-05-01T10:00:00+00:00\nrole: user\n\nI'm vegetarian.\n\n"
    "created_at: 2025-05-01T10:00:01+00:00\nrole: assistant\n\nNoted.\n\n"
)

TOOLS = [ToolSpec("save_memory", "fact"), ToolSpec("search_memory", "query")]


# --- the offline logic ------------------------------------------------------------------------


def test_remembered_reads_the_turn_helpers_system_message() -> None:
    assert remembered(TURN_SYSTEM) == [
        "I'm vegetarian.",
        "The user prefers aisle seats.",
        "I'm flying to Lisbon in May.",
    ]


def test_remembered_matches_what_render_memories_produces(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("u").get_or_create_session("s")
    session.add_memory(facts=["Alice is vegetarian."], async_processing=False)
    blocks = session.search_memory("vegetarian").memory_blocks
    system = render_memories(blocks)
    assert system is not None
    assert remembered(system) == ["Alice is vegetarian."]


def test_remembered_reads_search_tool_results_and_crewai_prompts() -> None:
    assert remembered(SEARCH_RESULT) == ["The user said: I prefer aisle seats.", "I'm vegetarian."]
    # Scores and details are dropped, a stored offline "Noted" keeps what it noted, and an
    # offline "From memory" echo is not taken for a memory.
    assert remembered(CREW_PROMPT) == ["I'm vegetarian.", "Alice's home airport is Porto (OPO)."]


def test_remembered_reads_llama_index_context_blocks_without_assistant_nodes() -> None:
    assert remembered(LLAMA_CONTEXT) == ["I'm vegetarian.", "The user prefers aisle seats."]
    assert remembered(CONDENSE_CONTEXT) == ["I'm vegetarian."]


def test_remembered_ignores_text_without_a_memory_header() -> None:
    assert remembered("You are a travel assistant.\n- be brief\n- be kind") == []
    assert remembered("") == []


def test_a_statement_is_saved_and_a_question_searched() -> None:
    prompt = OfflinePrompt(
        user="Hi! I'm vegetarian and I prefer aisle seats. Which seat should I book?",
        tools=TOOLS,
    )
    assert plan_tool_calls(prompt) == [
        ToolCall(
            "save_memory", {"fact": "The user said: I'm vegetarian and I prefer aisle seats."}
        ),
        ToolCall("search_memory", {"query": "Which seat should I book?"}),
    ]
    first, second = plan_tool_calls(prompt)
    assert first.call_id.startswith("offline-") and first.call_id != second.call_id
    assert first.call_id == plan_tool_calls(prompt)[0].call_id  # deterministic
    later = OfflinePrompt(user=prompt.user, tools=TOOLS, earlier_turns=1)
    assert plan_tool_calls(later)[0].call_id != first.call_id  # unique across turns


def test_no_tool_calls_without_tools_after_results_or_for_small_talk() -> None:
    assert plan_tool_calls(OfflinePrompt(user="I'm vegetarian.")) == []
    answered = OfflinePrompt(user="Where to eat?", tools=TOOLS, tool_results=[SEARCH_RESULT])
    assert plan_tool_calls(answered) == []
    assert plan_tool_calls(OfflinePrompt(user="Hi there!", tools=TOOLS)) == []
    only_search = [ToolSpec("search_travel_memory", "input")]
    assert plan_tool_calls(OfflinePrompt(user="I'm vegetarian.", tools=only_search)) == []


def test_offline_reply_answers_from_the_memories_it_was_given() -> None:
    reply = offline_reply(OfflinePrompt(user="Where should I eat?", context=TURN_SYSTEM))
    assert reply == (
        f"{OFFLINE_LABEL} From memory: I'm vegetarian. | The user prefers aisle seats. | "
        "I'm flying to Lisbon in May."
    )
    empty = offline_reply(OfflinePrompt(user="Where should I eat?"))
    assert empty == f"{OFFLINE_LABEL} I have nothing in memory about that."


def test_offline_reply_notes_statements_and_counts_earlier_turns() -> None:
    reply = offline_reply(OfflinePrompt(user="I'm vegetarian.", earlier_turns=2))
    assert reply == (
        f'{OFFLINE_LABEL} Noted: "I\'m vegetarian." (I can see 2 earlier turns of this '
        "conversation.)"
    )
    quoted = offline_reply(OfflinePrompt(user='Alice wrote: "I like trains." Record it.'))
    assert quoted == f'{OFFLINE_LABEL} Noted: "I like trains."'


def test_offline_reply_uses_tool_results() -> None:
    saved = offline_reply(
        OfflinePrompt(user="I'm vegetarian.", tool_results=["Saved memory b1: I'm vegetarian."])
    )
    assert saved == f"{OFFLINE_LABEL} Saved to memory: I'm vegetarian."
    found = offline_reply(
        OfflinePrompt(user="What do I eat?", tool_results=[RETRIEVER_TOOL_OUTPUT])
    )
    assert found == f"{OFFLINE_LABEL} From memory: I'm vegetarian."
    nothing = offline_reply(
        OfflinePrompt(user="What do I eat?", tool_results=["No relevant memories found."])
    )
    assert nothing == f"{OFFLINE_LABEL} I have nothing in memory about that."
    decision = offline_respond(OfflinePrompt(user="What do I eat?", tools=TOOLS))
    assert decision == [ToolCall("search_memory", {"query": "What do I eat?"})]


# --- LangChain --------------------------------------------------------------------------------


def test_chat_model_from_env_is_offline_without_the_variable() -> None:
    pytest.importorskip("langchain")
    from langchain_core.messages import HumanMessage, SystemMessage

    model = chat_model_from_env({})
    assert is_offline(model)
    assert OFFLINE_LABEL in repr(model) and ENV_VAR in repr(model)
    reply = model.invoke([SystemMessage(TURN_SYSTEM), HumanMessage("Where should I eat?")])
    assert reply.text.startswith(OFFLINE_LABEL)
    assert "I'm vegetarian." in reply.text


def test_chat_model_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain")
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert is_offline(chat_model_from_env())


def installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


@pytest.mark.skipif(installed("langchain_anthropic"), reason="langchain-anthropic is installed")
def test_a_missing_provider_package_falls_back_with_a_warning() -> None:
    pytest.importorskip("langchain")
    with pytest.warns(RuntimeWarning, match="offline model"):
        model = chat_model_from_env({ENV_VAR: "anthropic:claude-3-5-haiku-latest"})
    assert is_offline(model)


def test_an_unknown_provider_is_an_error() -> None:
    pytest.importorskip("langchain")
    with pytest.raises(ValueError):
        chat_model_from_env({ENV_VAR: "no-such-provider:some-model"})


def test_the_langchain_model_drives_a_tool_calling_agent(client: AgentMemoryClient) -> None:
    pytest.importorskip("langchain")
    from langchain.agents import create_agent
    from langgraph.checkpoint.memory import InMemorySaver

    from memory_integrations.langchain import create_memory_tools

    agent = create_agent(
        chat_model_from_env({}),
        tools=create_memory_tools(client, user_id="alice"),
        checkpointer=InMemorySaver(),
    )
    first = agent.invoke(
        {"messages": [{"role": "user", "content": "Hi! I prefer aisle seats on planes."}]},
        {"configurable": {"thread_id": "trip-1"}},
    )
    assert [m.type for m in first["messages"]] == ["human", "ai", "tool", "ai"]
    assert first["messages"][1].tool_calls[0]["name"] == "save_memory"

    second = agent.invoke(
        {"messages": [{"role": "user", "content": "Which seat should I book?"}]},
        {"configurable": {"thread_id": "trip-2"}},
    )
    assert second["messages"][1].tool_calls[0]["name"] == "search_memory"
    answer = second["messages"][-1].text
    assert answer.startswith(f"{OFFLINE_LABEL} From memory:")
    assert "I prefer aisle seats on planes." in answer


# --- LlamaIndex -------------------------------------------------------------------------------


def test_the_llama_index_llm_is_offline_and_labelled() -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.base.llms.types import ChatMessage

    llm = llama_index_llm_from_env({})
    assert is_offline(llm)
    assert OFFLINE_LABEL in repr(llm)
    assert llm.metadata.is_function_calling_model and llm.metadata.model_name == "offline-model"
    reply = llm.chat(
        [
            ChatMessage(role="system", content=LLAMA_CONTEXT),
            ChatMessage(role="user", content="Eat?"),
        ]
    )
    assert (
        reply.message.content
        == f"{OFFLINE_LABEL} From memory: I'm vegetarian. | The user prefers aisle seats."
    )
    assert llm.complete("Where to?").text.startswith(OFFLINE_LABEL)


async def test_the_llama_index_llm_calls_a_retriever_tool(client: AgentMemoryClient) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import RetrieverTool

    from memory_integrations.llama_index import AgentMemoryRetriever

    session = client.get_or_create_user("alice").get_or_create_session("monday")
    session.add_memory(facts=["Alice prefers aisle seats."], async_processing=False)
    tool = RetrieverTool.from_defaults(
        AgentMemoryRetriever(client, user_id="alice", k=1), name="search_memory"
    )
    agent = FunctionAgent(llm=llama_index_llm_from_env({}), tools=[tool])
    answer = await agent.run(user_msg="Which seat should I book?")
    assert str(answer) == f"{OFFLINE_LABEL} From memory: Alice prefers aisle seats."


def test_llama_index_providers() -> None:
    pytest.importorskip("llama_index.core")
    with pytest.raises(ValueError, match="no LlamaIndex LLM known"):
        llama_index_llm_from_env({ENV_VAR: "no-such-provider:model"})
    with pytest.raises(ValueError, match="<provider>:<model>"):
        llama_index_llm_from_env({ENV_VAR: "gpt-4o-mini"})
    if not installed("llama_index.llms.ollama"):
        with pytest.warns(RuntimeWarning, match="llama-index-llms-ollama"):
            assert is_offline(llama_index_llm_from_env({ENV_VAR: "ollama:llama3.1"}))


# --- CrewAI -----------------------------------------------------------------------------------


@pytest.fixture
def crewai_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        "CREWAI_TRACING_ENABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    pytest.importorskip("crewai.llms.base_llm")


@pytest.mark.usefixtures("crewai_offline")
def test_the_crewai_llm_answers_the_task_from_its_memories(
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm = crewai_llm_from_env({})
    assert is_offline(llm)
    assert OFFLINE_LABEL in repr(llm) and OFFLINE_LABEL in str(llm)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are Restaurant scout."},
        {"role": "user", "content": CREW_PROMPT},
    ]
    answer = llm.call(messages)
    assert answer == (
        "Thought: I can answer from what I was given.\nFinal Answer: "
        f"{OFFLINE_LABEL} From memory: I'm vegetarian. | Alice's home airport is Porto (OPO)."
    )
    with caplog.at_level(logging.WARNING):
        assert llm.get_input_tokens_count(messages) > 100
    assert "approximate input token count" not in caplog.text


@pytest.mark.usefixtures("crewai_offline")
def test_crewai_llm_from_env_builds_a_crewai_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        llm = crewai_llm_from_env({ENV_VAR: "openai:gpt-4o-mini"})
    assert not is_offline(llm)
    assert llm.model.endswith("gpt-4o-mini")


@pytest.mark.usefixtures("crewai_offline")
def test_a_crew_recalls_through_the_offline_llm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREWAI_STORAGE_DIR", str(tmp_path / "crewai"))
    from crewai import Agent, Crew, Task
    from memory_integrations.crewai import agent_memory_for_crew

    with AgentMemoryClient(tmp_path / "crew.sqlite3", embedder="hashing") as client:
        memory = agent_memory_for_crew(client, crew_name="Trip", analysis=False)
        llm = crewai_llm_from_env({})
        agent = Agent(role="Scout", goal="Help", backstory="Kind.", llm=llm, allow_delegation=False)
        task = Task(
            description="Suggest a vegetarian dinner for Alice.",
            expected_output="One line.",
            agent=agent,
        )
        crew = Crew(agents=[agent], tasks=[task], memory=memory)
        memory.remember("Alice is vegetarian.")
        result = crew.kickoff()
        memory.close()
    assert result.raw == f"{OFFLINE_LABEL} From memory: Alice is vegetarian."


@pytest.mark.usefixtures("crewai_offline")
def test_crewai_memory_analysis_on_the_offline_llm_keeps_content_and_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from crewai.memory.analyze import analyze_query, extract_memories_from_content

    from memory_integrations.crewai import agent_memory_for_crew

    llm = crewai_llm_from_env({})
    assert llm.supports_function_calling()
    with caplog.at_level(logging.DEBUG):
        content = "Alice is vegetarian.\nShe flies from Porto."
        assert extract_memories_from_content(content, llm) == [content]
        assert analyze_query("what does Alice eat?", ["/"], None, llm).keywords == []
        with AgentMemoryClient(tmp_path / "crew.sqlite3", embedder="hashing") as client:
            memory = agent_memory_for_crew(client, crew_name="Trip", analysis=True, llm=llm)
            memory.remember("Alice is vegetarian.")
            found = memory.recall("What does Alice eat?", depth="shallow")
            memory.close()
    assert [m.record.content for m in found] == ["Alice is vegetarian."]
    assert "failed" not in caplog.text.lower()
