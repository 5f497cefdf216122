"""Real crews and CrewAI ``Memory`` on the engine, offline, across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _crewai_app import FIRST_RUN, OFFLINE_ENV, ScriptedLLM, build_crew
from crewai.agent import Agent
from crewai.crew import Crew
from crewai.llms.base_llm import BaseLLM
from crewai.memory.analyze import (
    ConsolidationAction,
    ConsolidationPlan,
    ExtractedMemories,
    MemoryAnalysis,
    QueryAnalysis,
)
from crewai.task import Task
from pydantic import BaseModel, PrivateAttr

from memory_integrations import AgentMemoryClient
from memory_integrations.crewai import (
    AgentMemoryStorage,
    CrewMemory,
    agent_memory_for_crew,
    extract_result,
)

APP = Path(__file__).with_name("_crewai_app.py")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai.*")


@pytest.fixture
def crew_db(tmp_path: Path) -> Path:
    return tmp_path / "crew.sqlite3"


def test_a_new_process_recalls_what_the_first_kickoff_learnt(crew_db: Path, tmp_path: Path) -> None:
    # First kickoff, in this process, on the local default embedder and no API key.
    with AgentMemoryClient(crew_db, embedder="default") as client:
        memory = agent_memory_for_crew(client, crew_name="Support Crew", analysis=False)
        crew, llms = build_crew(
            memory,
            "Support Crew",
            {role: task for role, (task, _) in FIRST_RUN.items()},
            {task[:30]: answer for task, answer in FIRST_RUN.values()},
        )
        assert crew.kickoff().raw == FIRST_RUN["writer"][1]
        memory.close()  # drains CrewAI's background saves
        (first_prompt,) = llms["researcher"].prompts
        assert "Relevant memories" not in first_prompt  # nothing stored yet
        (second_prompt,) = llms["writer"].prompts  # the researcher's lesson, already stored
        assert "Relevant memories:\n- (score=" in second_prompt
        assert "Alice prefers teal notebooks." in second_prompt.split("Relevant memories")[1]

        storage = memory._storage
        assert isinstance(storage, AgentMemoryStorage)
        saved = {r.content: r for r in storage.list_records("/crew/support-crew")}
        assert set(saved) == {
            "Alice prefers teal notebooks.",
            "Alice wants deliveries to the Lisbon office.",
        }
        teal, lisbon = (
            saved["Alice prefers teal notebooks."],
            saved["Alice wants deliveries to the Lisbon office."],
        )
        assert (teal.scope, teal.private) == ("/crew/support-crew/agent/researcher", False)
        assert (lisbon.scope, lisbon.private, lisbon.source) == (
            "/crew/support-crew/agent/writer",
            True,
            "writer",
        )
        # The crew's memory is ordinary engine memory for every other adapter.
        hits = client.get_user("crewai").search_memory(
            "notebook colour", filters={"agent_id": "researcher"}
        )
        assert [b.fact for b in hits.memory_blocks] == ["Alice prefers teal notebooks."]

    # Second kickoff: a fresh interpreter on the same SQLite file.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OFFLINE_ENV, CREWAI_STORAGE_DIR=str(tmp_path / "crewai"))
    run = subprocess.run(
        [sys.executable, str(APP), str(crew_db), "default", "Support Crew"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["network"] == []
    (researcher_prompt,) = result["prompts"]["researcher"]
    (writer_prompt,) = result["prompts"]["writer"]
    assert "Relevant memories" in researcher_prompt
    assert "Alice prefers teal notebooks." in researcher_prompt  # recalled from run one
    assert "Lisbon" not in researcher_prompt  # the writer's private memory stays private
    assert "Alice wants deliveries to the Lisbon office." in writer_prompt  # ... but its own
    assert "Alice prefers teal notebooks." in writer_prompt  # and the shared one


def agent(role: str) -> Agent:
    return Agent(role=role, goal="Help", backstory="Test.", llm=ScriptedLLM(model="scripted"))


@pytest.mark.sqlite_only  # CrewAI semantics; the storage tests cover both stores
def test_reset_memories_clears_only_the_crews_scope(client: AgentMemoryClient) -> None:
    alpha = agent_memory_for_crew(client, crew_name="Alpha", analysis=False)
    beta = agent_memory_for_crew(client, crew_name="Beta", analysis=False)
    chat = client.get_or_create_user("crewai").get_or_create_session("chat")
    chat.add_memory(facts=["a fact another adapter stored"], async_processing=False)
    alpha.remember("alpha knows the launch date")
    alpha.for_agent("writer").remember("alpha's writer has a secret")
    beta.remember("beta knows the budget")
    crews = {}
    for name, memory in (("Alpha", alpha), ("Beta", beta)):
        a = agent(f"{name} agent")
        task = Task(description="Do it.", expected_output="Done.", agent=a)
        crews[name] = Crew(name=name, agents=[a], tasks=[task], memory=memory)
    assert crews["Alpha"]._memory is alpha  # a CrewMemory is accepted as a Memory

    assert alpha.info().record_count == 2
    crews["Alpha"].reset_memories("memory")

    assert alpha.info().record_count == 0
    assert [r.content for r in beta.list_records()] == ["beta knows the budget"]
    assert chat.count_memories() == 1
    for memory in (alpha, beta):
        memory.close()


class AnalysisLLM(BaseLLM):
    """A structured-output fake of CrewAI's memory analysis LLM."""

    _calls: list[str] = PrivateAttr(default_factory=list)

    def supports_function_calling(self) -> bool:
        return True

    def call(self, messages: Any, *args: Any, response_model: Any = None, **kw: Any) -> Any:
        name = response_model.__name__ if response_model else "text"
        self._calls.append(name)
        text = json.dumps(messages)
        answers: dict[str, BaseModel] = {
            "MemoryAnalysis": MemoryAnalysis(
                suggested_scope="/customers", categories=["preferences"], importance=0.8
            ),
            "ExtractedMemories": ExtractedMemories(memories=["Alice prefers teal notebooks"]),
            "QueryAnalysis": QueryAnalysis(recall_queries=["Alice notebook colour"]),
        }
        if name == "ConsolidationPlan":
            record_id = text.split("id=", 1)[1].split(" ", 1)[0]
            return ConsolidationPlan(
                actions=[
                    ConsolidationAction(
                        action="update", record_id=record_id, new_content="Alice loves teal"
                    )
                ],
                insert_new=False,
            )
        return answers[name]


@pytest.mark.sqlite_only  # CrewAI semantics; the storage tests cover both stores
def test_llm_analysis_runs_on_the_engine(client: AgentMemoryClient) -> None:
    llm = AnalysisLLM(model="fake-analysis")
    memory = agent_memory_for_crew(client, crew_name="Analysts", llm=llm)
    record = memory.remember("Alice prefers teal notebooks")
    assert record is not None
    assert (record.scope, record.categories, record.importance) == (
        "/crew/analysts/customers",
        ["preferences"],
        0.8,
    )
    # The same fact again is similar enough to consolidate: the LLM's update lands in place.
    memory.remember("Alice prefers teal notebooks", categories=["preferences"], importance=0.8)
    assert [r.content for r in memory.list_records()] == ["Alice loves teal"]
    assert memory.extract_memories("Task: x\nResult: Alice prefers teal") == [
        "Alice prefers teal notebooks"
    ]

    long_query = "What colour of notebooks does Alice prefer? " * 6  # analysed by the LLM
    matches = memory.recall(long_query)
    assert [m.record.content for m in matches] == ["Alice loves teal"]
    assert llm._calls.count("QueryAnalysis") == 1
    assert {"MemoryAnalysis", "ConsolidationPlan", "ExtractedMemories"} <= set(llm._calls)
    memory.close()


@pytest.fixture
def no_recall_flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from crewai.memory import recall_flow

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("deep recall (LLM) must not run without analysis")

    monkeypatch.setattr(recall_flow.RecallFlow, "kickoff", refuse)
    yield


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("no_recall_flow")
def test_without_analysis_memory_is_deterministic_and_llm_free(client: AgentMemoryClient) -> None:
    memory = agent_memory_for_crew(client, root_scope="/team", analysis=False, llm="gpt-5.4-mini")
    assert isinstance(memory, CrewMemory)
    first = memory.remember("The launch is on Friday")
    # Consolidation answers "keep both" offline; the storage keeps one copy (the newest).
    again = memory.remember("The launch is on Friday")
    memory.remember_many(["Budget is 10k", "Budget is 10k", "Office is in Lisbon"])
    assert first is not None and again is not None
    assert (first.scope, first.categories, first.importance) == ("/team", [], 0.5)
    memory.drain_writes()
    assert sorted(r.content for r in memory.list_records()) == [
        "Budget is 10k",  # duplicates inside one batch are dropped by CrewAI itself
        "Office is in Lisbon",
        "The launch is on Friday",
    ]
    matches = memory.recall("When is the launch? " * 15, depth="deep", limit=2)
    found = [m.record.content for m in matches]
    assert found[0] == "The launch is on Friday" and found.count(found[0]) == 1
    assert matches[0].record.id == again.id

    private = memory.for_agent("writer")
    private.remember("Writer's draft title is Blue Dawn")
    assert "Blue Dawn" in private.recall("draft title")[0].record.content
    assert all("Blue Dawn" not in m.record.content for m in memory.recall("draft title"))
    memory.close()


@pytest.mark.sqlite_only
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
def test_agent_privacy_survives_crewai_copying_the_agent(client: AgentMemoryClient) -> None:
    # kickoff_for_each / train / test copy agents, which rebuilds their Memory from its
    # fields as a plain crewai Memory; the private view lives in the storage, so it holds.
    memory = agent_memory_for_crew(client, crew_name="Copied", analysis=False)
    writer = Agent(
        role="Writer",
        goal="g",
        backstory="b",
        llm=ScriptedLLM(model="s"),
        memory=memory.for_agent("writer"),
    )
    copied = writer.copy().memory
    assert type(copied) is not CrewMemory  # CrewAI's doing, not ours
    copied.remember("The secret codename is Nightjar", scope="/", categories=[], importance=0.5)
    copied.drain_writes()
    assert "Nightjar" in copied.recall("codename", depth="shallow")[0].record.content
    assert memory.recall("codename") == []
    memory.close()


def test_extract_result_keeps_the_final_answer() -> None:
    task_dump = (
        "Task: Find it\nAgent: Researcher\nExpected result: One line\n"
        "Result: Thought: easy\nFinal Answer: It is teal."
    )
    assert extract_result(task_dump) == ["It is teal."]
    assert extract_result("Task: t\nResult: plain result\nsecond line") == [
        "plain result\nsecond line"
    ]
    assert extract_result("just some content") == ["just some content"]
    assert extract_result("  ") == []
