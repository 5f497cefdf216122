"""Where CrewAI's own storage sets the expectation: reads after ``close()``, identical records
stored once, any embedder the crew is configured with, and no model or network by default."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _crewai_app import ScriptedLLM
from crewai.agent import Agent
from crewai.crew import Crew
from crewai.memory.storage.backend import EmbeddingDimensionMismatchError
from crewai.memory.types import MemoryRecord
from crewai.memory.unified_memory import Memory
from crewai.task import Task

from memory_integrations import AgentMemoryClient
from memory_integrations.crewai import (
    AgentMemoryStorage,
    CrewMemory,
    agent_memory_for_crew,
)
from memory_integrations.errors import ClientClosedError
from memory_integrations.offline import is_offline

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai.*")
TIMING = Path(__file__).with_name("_kickoff_timing.py")


def trigram_embedder(texts: list[str]) -> list[list[float]]:
    """A deterministic offline embedder that is not the engine's: hashed character
    trigrams, 48 dimensions, unnormalised (CrewAI passes vectors through as they are)."""
    rows = []
    for text in texts:
        vector = np.zeros(48)
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=2).digest()
            vector[int.from_bytes(digest, "little") % 48] += 1.0
        rows.append(vector.tolist())
    return rows


class CountingLLM(ScriptedLLM):
    """The scripted agent model, with its own token count (CrewAI warns without one)."""

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        return max(1, len(str(messages)) // 4)


def rec(content: str, scope: str = "/", **fields: Any) -> MemoryRecord:
    return MemoryRecord(content=content, scope=scope, **fields)


# --- close() -----------------------------------------------------------------------------


def test_reads_and_writes_keep_working_after_close(tmp_path: Path) -> None:
    """CrewAI's ``Memory.close()`` closes the storage; LanceDB keeps serving reads after
    that, and so does a storage that opened its own client (it opens it again)."""
    storage = AgentMemoryStorage(tmp_path / "crew.sqlite3", user_id="t")
    memory = Memory(storage=storage, embedder=storage.embedder, llm=ScriptedLLM(model="s"))
    memory.remember("Alice prefers teal notebooks.", scope="/", categories=[], importance=0.5)
    view = storage.for_agent("writer")
    memory.close()  # drains, closes the storage's client, stops CrewAI's save pool
    assert storage.count() == 1  # reopened on demand
    assert [r.content for r in view.list_records()] == ["Alice prefers teal notebooks."]
    storage.save([rec("Bob prefers red notebooks.")])
    hits = storage.search(storage.embedder(["teal notebooks"])[0], limit=1)
    assert hits[0][0].content == "Alice prefers teal notebooks."
    storage.close()
    storage.close()  # twice is fine
    assert storage.count() == 2
    view.close()  # a view never closes the shared client
    assert storage.count() == 2
    storage.close()


def test_a_client_passed_in_stays_the_callers(tmp_path: Path) -> None:
    client = AgentMemoryClient(tmp_path / "mine.sqlite3", embedder="hashing")
    storage = AgentMemoryStorage(client)
    storage.save([rec("kept")])
    storage.close()
    assert not client.closed  # not the storage's to close
    assert storage.count() == 1
    client.close()
    with pytest.raises(ClientClosedError):  # the caller closed it: nothing reopens it
        storage.count()


# --- identical records --------------------------------------------------------------------


def test_the_same_memory_saved_again_is_stored_once(crew_storage: AgentMemoryStorage) -> None:
    for n in range(3):
        crew_storage.save([rec("The launch is on Friday.", "/crew/a", importance=0.1 * n)])
    (kept,) = crew_storage.list_records()
    assert kept.importance == pytest.approx(0.2)  # the newest copy replaces the older ones
    crew_storage.save([rec("The launch is on Friday.", "/crew/b")])  # another scope
    crew_storage.save([rec("The launch is on Friday!", "/crew/a")])  # other content
    crew_storage.save([rec("The launch is on Friday.", "/crew/a", private=True, source="w")])
    crew_storage.save([rec("The launch is on Friday.", "/crew/a", private=True, source="v")])
    assert crew_storage.count() == 5
    crew_storage.save([rec("x", "/crew/c"), rec("x", "/crew/c"), rec("x", "/crew/c")])
    assert [r.content for r in crew_storage.list_records("/crew/c")] == ["x"]


def test_a_crew_run_three_times_stores_its_lesson_once(client: AgentMemoryClient) -> None:
    memory = agent_memory_for_crew(client, crew_name="Repeat", analysis=False)
    for _ in range(3):
        llm = ScriptedLLM(model="s", answers={"colour": "Alice prefers teal."})
        researcher = Agent(role="Researcher", goal="g", backstory="b", llm=llm)
        task = Task(description="Which colour?", expected_output="One line.", agent=researcher)
        Crew(agents=[researcher], tasks=[task], memory=memory).kickoff()
        memory.drain_writes()
    assert [r.content for r in memory.list_records()] == ["Alice prefers teal."]
    memory.close()


# --- any embedder -------------------------------------------------------------------------


def test_search_ranks_by_the_crews_own_vectors(crew_storage: AgentMemoryStorage) -> None:
    texts = ["teal notebooks for Alice", "red pens for Bob", "teal ink for Carol"]
    vectors = trigram_embedder(texts)
    crew_storage.save(
        [
            rec(t, "/crew", embedding=v, categories=[t.split()[0]])
            for t, v in zip(texts, vectors, strict=True)
        ]
    )
    (query,) = trigram_embedder(["teal notebooks"])
    hits = crew_storage.search(query, limit=3)
    q = np.asarray(query)
    expected = sorted(
        (float(q @ np.asarray(v) / (np.linalg.norm(q) * np.linalg.norm(v))), t)
        for t, v in zip(texts, vectors, strict=True)
    )[::-1]
    assert [r.content for r, _ in hits] == [t for _, t in expected]
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert hits[0][0].embedding == pytest.approx(vectors[0])  # records carry their vector
    assert [r.content for r, _ in crew_storage.search(query, categories=["red"])] == [
        "red pens for Bob"
    ]
    assert crew_storage.search(query, scope_prefix="/elsewhere") == []
    assert crew_storage.search(query, min_score=hits[1][1]) == hits[:2]
    with pytest.raises(EmbeddingDimensionMismatchError):
        crew_storage.search([0.1] * 8)  # the stored vectors are 48-d
    with pytest.raises(EmbeddingDimensionMismatchError):
        crew_storage.save([rec("short vector", embedding=[0.1] * 8)])
    assert crew_storage.count() == 3


def test_a_crew_with_its_own_embedder_remembers_and_recalls(client: AgentMemoryClient) -> None:
    """``Crew(memory=...)`` whose ``Memory`` embeds with another (deterministic, offline)
    model: CrewAI hands the storage that model's vectors, and recall ranks by them."""
    memory = agent_memory_for_crew(
        client, crew_name="Own Embedder", analysis=False, embedder=trigram_embedder
    )
    answers = {"colour": "Alice prefers teal notebooks.", "Remind": "Teal it is."}
    llm = ScriptedLLM(model="s", answers=answers)
    researcher = Agent(role="Researcher", goal="g", backstory="b", llm=llm)
    first = Task(description="Find Alice's colour.", expected_output="One line.", agent=researcher)
    Crew(agents=[researcher], tasks=[first], memory=memory).kickoff()
    memory.drain_writes()
    (stored,) = memory.list_records()
    assert stored.embedding == pytest.approx(trigram_embedder([stored.content])[0])

    llm2 = ScriptedLLM(model="s", answers=answers)
    again = Agent(role="Researcher", goal="g", backstory="b", llm=llm2)
    second = Task(description="Remind me of Alice's colour.", expected_output="x", agent=again)
    Crew(agents=[again], tasks=[second], memory=memory).kickoff()
    (prompt,) = llm2.prompts
    assert "Alice prefers teal notebooks." in prompt.split("Relevant memories")[1]
    matches = memory.recall("Alice colour teal", limit=1)
    assert matches[0].record.content == "Alice prefers teal notebooks."
    memory.close()


# --- no model, no network ---------------------------------------------------------------------


def test_no_model_configured_means_no_model_contacted(
    client: AgentMemoryClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The default ``analysis=True`` without an ``llm`` or ``OPENAI_API_KEY`` (the autouse
    fixture removes it and refuses network connections) uses the offline model and logs
    nothing at warning level or above through a whole crew run."""
    caplog.set_level(logging.WARNING)
    memory = agent_memory_for_crew(client, crew_name="Offline")
    assert isinstance(memory, CrewMemory)
    assert is_offline(memory.llm) and not memory.analysing
    memory.remember("The launch is on Friday.")
    memory.remember("The launch is on Friday.")  # similar: consolidation asks the model
    llm = CountingLLM(model="s", answers={"launch": "It is on Friday."})
    lead = Agent(role="Lead", goal="g", backstory="b", llm=llm)
    task = Task(description="When is the launch?", expected_output="A day.", agent=lead)
    Crew(agents=[lead], tasks=[task], memory=memory).kickoff()
    memory.close()
    assert "The launch is on Friday." in llm.prompts[0]
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [r.getMessage() for r in problems]


def test_a_given_model_or_key_is_still_used(
    client: AgentMemoryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = ScriptedLLM(model="mine")
    assert agent_memory_for_crew(client, llm=given).analysing
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    memory = agent_memory_for_crew(client)
    assert memory.llm == "gpt-5.4-mini" and memory.analysing  # CrewAI's default, not called
    memory.close()


def test_memory_analysis_uses_the_configured_extraction_model(
    client: AgentMemoryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # even then: not CrewAI's OpenAI default
    monkeypatch.setenv("MEMORY_INTEGRATIONS_EXTRACTION_MODEL", "openai-compatible:local-model")
    monkeypatch.setenv("MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL", "http://127.0.0.1:9/v1")
    memory = agent_memory_for_crew(client)
    assert memory.analysing
    assert (memory.llm.model, memory.llm.base_url) == ("local-model", "http://127.0.0.1:9/v1")
    memory.close()
    monkeypatch.setenv("MEMORY_INTEGRATIONS_EXTRACTION_MODEL", "ollama:llama3")
    other = agent_memory_for_crew(client)
    assert other.llm.model == "llama3" and other.analysing
    other.close()
    given = ScriptedLLM(model="mine")  # a model given by the caller still wins
    assert agent_memory_for_crew(client, llm=given).llm is given


def test_an_offline_kickoff_with_crewais_opt_outs_is_quick_and_quiet(tmp_path: Path) -> None:
    """A fresh process, packets to the outside dropped, CrewAI's telemetry and tracing
    switched off as docs/crewai.md says: the kickoff opens no connection and logs nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CREWAI_"))}
    env["CREWAI_STORAGE_DIR"] = str(tmp_path / "crewai")
    run = subprocess.run(
        [sys.executable, str(TIMING), str(tmp_path / "timing.sqlite3"), "--opt-out"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["connection_attempts"] == []
    assert result["logged"] == []
    assert result["kickoff_seconds"] < 3.0
