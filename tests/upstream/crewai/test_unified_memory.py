"""Port of CrewAI ``lib/crewai/tests/memory/test_unified_memory.py`` to ``AgentMemoryStorage``.
See tests/upstream/README.md and this directory's conftest (every ``storage=<path>`` is ours).

Most upstream tests embed with a ``MagicMock`` returning the same 1536-d vector for every text:
not the engine's embedder, so these exercise the storage's ranking by the crew's own vectors.
Tests of CrewAI code that never reaches a storage (record models, scoring functions, the
analysis prompts' fallbacks, the executor with a mocked memory) are skipped as not about it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from crewai.memory.types import MemoryRecord

from memory_integrations.crewai import AgentMemoryStorage

NOT_STORAGE = "tests CrewAI's own {what}, which no storage takes part in"


@pytest.fixture
def mock_embedder() -> MagicMock:
    m = MagicMock()
    m.side_effect = lambda texts: [[0.1] * 1536 for _ in texts]
    return m


def distinct_embedder_factory() -> Any:
    """One-hot vectors that differ on every call, as upstream's ``distinct_embedder``."""
    calls = 0

    def embed(texts: list[str]) -> list[list[float]]:
        nonlocal calls
        rows = []
        for i, _ in enumerate(texts):
            row = [0.0] * 1536
            row[(calls + i) % 1536] = 1.0
            rows.append(row)
        calls += len(texts)
        return rows

    return embed


def test_memory_analysis_llm_is_isolated_from_streaming_agent_llm(tmp_path: Path) -> None:
    from crewai.llms.base_llm import BaseLLM
    from crewai.memory.unified_memory import Memory

    class FakeStreamingLLM(BaseLLM):
        def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            return ""

    agent_llm = FakeStreamingLLM(model="fake-model", stream=True)
    mem = Memory(
        storage=str(tmp_path / "db"), llm=agent_llm, embedder=lambda texts: [[0.1] for _ in texts]
    )
    assert isinstance(mem._storage, AgentMemoryStorage)
    assert mem._llm is not agent_llm and mem._llm.stream is False
    agent_llm.stream = True
    assert mem._llm.stream is False


@pytest.mark.skip(reason=NOT_STORAGE.format(what="record, match, scope-info and config models"))
def test_memory_types() -> None:
    """Upstream: test_memory_record_defaults, test_memory_match,
    test_memory_record_embedding_excluded_from_serialization,
    test_memory_match_embedding_excluded_from_serialization, test_scope_info,
    test_memory_config."""


def test_lancedb_save_search(make_storage: Any) -> None:
    """Upstream's LanceDBStorage contract checks, on AgentMemoryStorage."""
    storage = make_storage("mem")
    record = MemoryRecord(
        content="test content",
        scope="/foo",
        categories=["cat1"],
        importance=0.8,
        embedding=[0.1, 0.2, 0.3, 0.4],
    )
    storage.save([record])
    results = storage.search([0.1, 0.2, 0.3, 0.4], scope_prefix="/foo", limit=5)
    assert len(results) == 1
    found, score = results[0]
    assert (found.content, found.scope) == ("test content", "/foo") and score >= 0.0


def test_lancedb_delete_count(make_storage: Any) -> None:
    storage = make_storage("mem")
    storage.save([MemoryRecord(content="x", scope="/", embedding=[0.0] * 4)])
    assert storage.count() == 1
    assert storage.delete(scope_prefix="/") >= 1
    assert storage.count() == 0


def test_lancedb_list_scopes_get_scope_info(make_storage: Any) -> None:
    storage = make_storage("mem")
    storage.save(
        [
            MemoryRecord(content="a", scope="/", embedding=[0.0] * 4),
            MemoryRecord(content="b", scope="/team", embedding=[0.0] * 4),
        ]
    )
    assert "/team" in storage.list_scopes("/")
    info = storage.get_scope_info("/")
    assert info.record_count >= 1 and info.path == "/"


def test_memory_remember_recall_shallow(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    m = Memory(storage=str(tmp_path / "db"), llm=MagicMock(), embedder=mock_embedder)
    r = m.remember(
        "We decided to use Python.", scope="/project", categories=["decision"], importance=0.7
    )
    assert r is not None and (r.content, r.scope) == ("We decided to use Python.", "/project")
    matches = m.recall("Python decision", scope="/project", limit=5, depth="shallow")
    assert matches and "python" in matches[0].record.content.lower()


def test_memory_forget(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    m = Memory(storage=str(tmp_path / "db2"), llm=MagicMock(), embedder=mock_embedder)
    m.remember("To forget", scope="/x", categories=[], importance=0.5, metadata={})
    assert m._storage.count("/x") >= 1
    assert m.forget(scope="/x") >= 1
    assert m._storage.count("/x") == 0


def test_memory_scope_slice(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    mem = Memory(storage=str(tmp_path / "db3"), llm=MagicMock(), embedder=mock_embedder)
    assert mem.scope("/agent/1")._root in ("/agent/1", "/agent/1/")
    sl = mem.slice(["/a", "/b"], read_only=True)
    assert sl.read_only is True and "/a" in sl.scopes and "/b" in sl.scopes


def test_memory_list_scopes_info_tree(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    m = Memory(storage=str(tmp_path / "db4"), llm=MagicMock(), embedder=mock_embedder)
    m.remember("Root", scope="/", categories=[], importance=0.5, metadata={})
    m.remember("Team note", scope="/team", categories=[], importance=0.5, metadata={})
    assert "/team" in m.list_scopes("/")
    assert m.info("/").record_count >= 1
    tree = m.tree("/", max_depth=2)
    assert "/" in tree or "0 records" in tree or "1 records" in tree


def test_memory_scope_remember_recall(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.memory_scope import MemoryScope
    from crewai.memory.unified_memory import Memory

    mem = Memory(storage=str(tmp_path / "db5"), llm=MagicMock(), embedder=mock_embedder)
    scope = MemoryScope(memory=mem, root_path="/crew/1")
    scope.remember("Scoped note", scope="/", categories=[], importance=0.5, metadata={})
    assert len(scope.recall("note", limit=5, depth="shallow")) >= 1


def test_memory_slice_recall(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.memory_scope import MemorySlice
    from crewai.memory.unified_memory import Memory

    mem = Memory(storage=str(tmp_path / "db6"), llm=MagicMock(), embedder=mock_embedder)
    mem.remember("In scope A", scope="/a", categories=[], importance=0.5, metadata={})
    sl = MemorySlice(memory=mem, scopes=["/a"], read_only=True)
    assert isinstance(sl.recall("scope", limit=5, depth="shallow"), list)


def test_memory_slice_remember_is_noop_when_read_only(
    tmp_path: Path, mock_embedder: MagicMock
) -> None:
    from crewai.memory.memory_scope import MemorySlice
    from crewai.memory.unified_memory import Memory

    mem = Memory(storage=str(tmp_path / "db7"), llm=MagicMock(), embedder=mock_embedder)
    sl = MemorySlice(memory=mem, scopes=["/a"], read_only=True)
    assert sl.remember("x", scope="/a") is None
    assert mem.list_records() == []


def test_flow_has_default_memory() -> None:
    from crewai.flow.flow import Flow
    from crewai.memory.unified_memory import Memory

    class DefaultFlow(Flow):  # type: ignore[type-arg]
        pass

    flow = DefaultFlow()
    assert isinstance(flow.memory, Memory)
    assert isinstance(flow.memory._storage, AgentMemoryStorage)  # the default spec, ours


def test_flow_recall_remember_raise_when_memory_explicitly_none() -> None:
    from crewai.flow.flow import Flow

    class NoMemoryFlow(Flow):  # type: ignore[type-arg]
        memory = None

    flow = NoMemoryFlow()
    flow.memory = None
    with pytest.raises(ValueError, match="No memory configured"):
        flow.recall("query")
    with pytest.raises(ValueError, match="No memory configured"):
        flow.remember("content")


def test_flow_recall_remember_with_memory(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.flow.flow import Flow
    from crewai.memory.unified_memory import Memory

    mem = Memory(storage=str(tmp_path / "flow_db"), llm=MagicMock(), embedder=mock_embedder)

    class FlowWithMemory(Flow):  # type: ignore[type-arg]
        memory = mem

    flow = FlowWithMemory()
    flow.remember("Flow remembered this", scope="/flow", categories=[], importance=0.6, metadata={})
    assert len(flow.recall("remembered", limit=5, depth="shallow")) >= 1


def test_memory_extract_memories_returns_list_from_llm(tmp_path: Path) -> None:
    from crewai.memory.analyze import ExtractedMemories
    from crewai.memory.unified_memory import Memory

    mock_llm = MagicMock()
    mock_llm.supports_function_calling.return_value = True
    mock_llm.call.return_value = ExtractedMemories(
        memories=["We use Python for the backend.", "API rate limit is 100/min."]
    )
    mem = Memory(
        storage=str(tmp_path / "extract_db"),
        llm=mock_llm,
        embedder=MagicMock(return_value=[[0.1] * 1536]),
    )
    result = mem.extract_memories(
        "Task: Build API. Result: We used Python and set rate limit 100/min."
    )
    assert result == ["We use Python for the backend.", "API rate limit is 100/min."]
    mock_llm.call.assert_called_once()
    assert mock_llm.call.call_args[1].get("response_model") == ExtractedMemories


def test_memory_extract_memories_empty_content_returns_empty_list(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    mock_llm = MagicMock()
    mem = Memory(storage=str(tmp_path / "empty_db"), llm=mock_llm, embedder=MagicMock())
    assert mem.extract_memories("") == [] and mem.extract_memories("   \n  ") == []
    mock_llm.call.assert_not_called()


@pytest.mark.skip(reason=NOT_STORAGE.format(what="agent executor, with a mocked memory"))
def test_executor_and_scope_delegation() -> None:
    """Upstream: test_executor_save_to_memory_calls_extract_then_remember_per_item,
    test_executor_save_to_memory_skips_delegation_output,
    test_memory_scope_extract_memories_delegates, test_memory_slice_extract_memories_delegates,
    test_flow_extract_memories_raises_when_memory_explicitly_none,
    test_flow_extract_memories_delegates_when_memory_present (all on MagicMock memories)."""


@pytest.mark.skip(reason=NOT_STORAGE.format(what="composite-score function"))
def test_composite_score_functions() -> None:
    """Upstream: test_composite_score_brand_new_memory, test_composite_score_old_memory_decayed,
    test_composite_score_match_reasons_populated, test_composite_score_custom_config."""


def test_composite_score_reranks_results(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    emb = [0.1] * 3072
    mem = Memory(
        storage=str(tmp_path / "rerank_db"), llm=MagicMock(), embedder=MagicMock(return_value=[emb])
    )
    mem._storage.save(
        [
            MemoryRecord(
                content="Important decision",
                scope="/",
                categories=[],
                importance=1.0,
                embedding=emb,
            )
        ]
    )
    old = datetime.utcnow() - timedelta(days=90)
    mem._storage.save(
        [
            MemoryRecord(
                content="Old trivial note", scope="/", importance=0.1, created_at=old, embedding=emb
            )
        ]
    )
    matches = mem.recall("decision", scope="/", limit=5, depth="shallow")
    assert len(matches) >= 2
    assert "important" in matches[0].record.content.lower()


@pytest.mark.skip(reason=NOT_STORAGE.format(what="analysis helpers' fallbacks on a failing LLM"))
def test_analysis_llm_failure_fallbacks() -> None:
    """Upstream: test_analyze_for_save_llm_failure_returns_defaults,
    test_extract_memories_llm_failure_returns_raw, test_analyze_query_llm_failure_returns_defaults
    (plain function calls with a mocked LLM)."""


def test_remember_survives_llm_failure(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    llm = MagicMock()
    llm.call.side_effect = RuntimeError("LLM unavailable")
    mem = Memory(storage=str(tmp_path / "fallback_db"), llm=llm, embedder=mock_embedder)
    record = mem.remember("We decided to use PostgreSQL.")
    assert record is not None and record.content == "We decided to use PostgreSQL."
    assert (record.scope, record.categories, record.importance) == ("/", [], 0.5)
    assert record.id is not None
    assert mem._storage.count() == 1


def test_agent_kickoff_memory_recall_and_save(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from unittest.mock import Mock, patch

    from crewai.agent.core import Agent
    from crewai.llm import LLM
    from crewai.memory.unified_memory import Memory
    from crewai.types.usage_metrics import UsageMetrics

    mem = Memory(
        storage=str(tmp_path / "agent_kickoff_db"), llm=MagicMock(), embedder=mock_embedder
    )
    mem.remember("The team uses PostgreSQL.", scope="/", categories=["database"], importance=0.8)

    mock_llm = Mock(spec=LLM)
    mock_llm.call.return_value = "Final Answer: PostgreSQL is the database."
    mock_llm.stop = []
    mock_llm.supports_stop_words.return_value = False
    mock_llm.supports_function_calling.return_value = False
    mock_llm.get_token_usage_summary.return_value = UsageMetrics(
        total_tokens=10,
        prompt_tokens=5,
        completion_tokens=5,
        cached_prompt_tokens=0,
        successful_requests=1,
    )
    agent = Agent(
        role="Tester",
        goal="Test memory integration",
        backstory="You test things.",
        llm=mock_llm,
        memory=mem,
        verbose=False,
    )
    with (
        patch.object(Memory, "recall", wraps=mem.recall) as recall_mock,
        patch.object(Memory, "extract_memories", return_value=["PostgreSQL is used."]) as extract,
        patch.object(Memory, "remember_many", wraps=mem.remember_many) as remember_many,
    ):
        result = agent.kickoff("What database do we use?")
    assert result is not None and result.raw is not None
    recall_mock.assert_called_once()
    extract.assert_called_once()
    raw = extract.call_args.args[0]
    assert "Input:" in raw and "Agent:" in raw and "Result:" in raw
    remember_many.assert_called_once()
    assert "PostgreSQL is used." in remember_many.call_args.args[0]
    mem.drain_writes()


def test_batch_embed_single_call(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    embedder = MagicMock(side_effect=lambda texts: [[0.1] * 1536 for _ in texts])
    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    mem.remember_many(
        ["Fact A.", "Fact B.", "Fact C."], scope="/test", categories=["test"], importance=0.5
    )
    mem.drain_writes()
    embedder.assert_called_once()
    assert embedder.call_args.args[0] == ["Fact A.", "Fact B.", "Fact C."]


def test_intra_batch_dedup_drops_near_identical(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    embedder = MagicMock(side_effect=lambda texts: [[0.5] * 1536 for _ in texts])
    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    mem.remember_many(
        ["CrewAI ensures reliable operation."] * 3,
        scope="/test",
        categories=["reliability"],
        importance=0.7,
    )
    mem.drain_writes()
    assert mem._storage.count() == 1


def test_intra_batch_dedup_keeps_merely_similar(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    embedder = MagicMock(side_effect=distinct_embedder_factory())
    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    mem.remember_many(
        ["CrewAI handles complex tasks.", "Python is the best language."],
        scope="/test",
        categories=["tech"],
        importance=0.6,
    )
    mem.drain_writes()
    assert mem._storage.count() == 2


def test_batch_consolidation_deduplicates_against_storage(tmp_path: Path) -> None:
    from crewai.memory.analyze import ConsolidationPlan
    from crewai.memory.unified_memory import Memory

    emb = [0.1] * 1536
    embedder = MagicMock(side_effect=lambda texts: [emb for _ in texts])
    llm = MagicMock()
    llm.supports_function_calling.return_value = True
    llm.call.return_value = ConsolidationPlan(
        actions=[], insert_new=False, insert_reason="duplicate"
    )
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    mem._storage.save(
        [MemoryRecord(content="CrewAI is great.", scope="/test", importance=0.7, embedding=emb)]
    )
    assert mem._storage.count() == 1
    mem.remember_many(
        ["CrewAI is great.", "CrewAI is wonderful."],
        scope="/test",
        categories=["review"],
        importance=0.7,
    )
    mem.drain_writes()
    assert mem._storage.count() == 1  # the LLM was asked (a similar stored record) and said no


def test_parallel_find_similar_runs_all_searches(tmp_path: Path) -> None:
    from unittest.mock import patch

    from crewai.memory.unified_memory import Memory

    embedder = MagicMock(side_effect=distinct_embedder_factory())
    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    with patch.object(mem._storage, "search", wraps=mem._storage.search) as search_mock:
        mem.remember_many(
            ["Alpha fact.", "Beta fact.", "Gamma fact."],
            scope="/test",
            categories=["test"],
            importance=0.5,
        )
        mem.drain_writes()
        assert search_mock.call_count == 3


def test_single_remember_uses_batch_flow(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=mock_embedder)
    record = mem.remember("Single fact.", scope="/project", categories=["decision"], importance=0.8)
    assert record is not None
    assert (record.content, record.scope, record.importance) == ("Single fact.", "/project", 0.8)
    assert mem._storage.count() == 1


def test_parallel_analyze_runs_concurrent_calls(tmp_path: Path) -> None:
    from crewai.memory.analyze import ExtractedMetadata, MemoryAnalysis
    from crewai.memory.unified_memory import Memory

    embedder = MagicMock(side_effect=distinct_embedder_factory())
    llm = MagicMock()
    llm.supports_function_calling.return_value = True
    llm.call.return_value = MemoryAnalysis(
        suggested_scope="/inferred",
        categories=["auto"],
        importance=0.6,
        extracted_metadata=ExtractedMetadata(),
    )
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    mem.remember_many(["Fact A.", "Fact B.", "Fact C."])
    mem.drain_writes()
    assert llm.call.call_count == 3
    assert mem._storage.count() == 3


def test_remember_many_returns_immediately(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    embedder = MagicMock(side_effect=distinct_embedder_factory())
    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=embedder)
    result = mem.remember_many(
        ["Fact A.", "Fact B."], scope="/test", categories=["test"], importance=0.5
    )
    assert result == []
    mem.drain_writes()
    assert mem._storage.count() == 2


def test_reset_all_blocks_new_save_submission_until_reset_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crewai.memory.unified_memory import Memory

    mem = Memory(
        storage=str(tmp_path / "db"),
        llm=MagicMock(),
        embedder=lambda texts: [[0.1] * 4 for _ in texts],
    )
    reset_started, release_reset, submitted = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    order: list[str] = []
    original_reset = mem._storage.reset

    def blocking_reset(scope_prefix: str | None = None) -> None:
        order.append("reset-start")
        reset_started.set()
        assert release_reset.wait(timeout=2)
        original_reset(scope_prefix=scope_prefix)
        order.append("reset-end")

    def submit_save() -> None:
        mem._submit_save(lambda: order.append("save"))
        order.append("submit-returned")
        submitted.set()

    monkeypatch.setattr(mem._storage, "reset", blocking_reset)
    reset_thread = threading.Thread(target=mem.reset_all)
    reset_thread.start()
    assert reset_started.wait(timeout=2)
    submit_thread = threading.Thread(target=submit_save)
    submit_thread.start()
    assert not submitted.wait(timeout=0.1)
    release_reset.set()
    reset_thread.join(timeout=2)
    submit_thread.join(timeout=2)
    assert not reset_thread.is_alive() and not submit_thread.is_alive()
    assert order.index("reset-end") < order.index("submit-returned")
    mem.drain_writes()


def test_recall_drains_pending_writes(tmp_path: Path, mock_embedder: MagicMock) -> None:
    from crewai.memory.unified_memory import Memory

    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=mock_embedder)
    mem.remember_many(["Python is great."], scope="/test", categories=["lang"], importance=0.7)
    matches = mem.recall("Python", scope="/test", limit=5, depth="shallow")
    assert matches and "Python" in matches[0].record.content


def test_drain_writes_reports_background_save_failure_without_raising(
    tmp_path: Path, mock_embedder: MagicMock
) -> None:
    from crewai.events.event_bus import crewai_event_bus
    from crewai.events.types.memory_events import MemorySaveFailedEvent
    from crewai.memory.unified_memory import Memory

    seen = threading.Event()
    failures: list[MemorySaveFailedEvent] = []
    mem = Memory(storage=str(tmp_path / "db"), llm=MagicMock(), embedder=mock_embedder)

    def fail_save() -> None:
        raise ValueError("invalid model ID")

    with crewai_event_bus.scoped_handlers():

        @crewai_event_bus.on(MemorySaveFailedEvent)
        def on_failed(_source: Any, event: MemorySaveFailedEvent) -> None:
            failures.append(event)
            seen.set()

        mem._submit_save(fail_save)
        mem.drain_writes()
        assert seen.wait(timeout=2)
    assert failures and failures[0].value == "background save"
    assert failures[0].error == "invalid model ID"


def test_close_drains_and_shuts_down(tmp_path: Path, mock_embedder: MagicMock) -> None:
    """After close() upstream reads the storage again: LanceDB keeps working, and so does
    AgentMemoryStorage (one that opened its own client reopens it)."""
    from crewai.memory.unified_memory import Memory

    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    mem = Memory(storage=str(tmp_path / "db"), llm=llm, embedder=mock_embedder)
    mem.remember_many(["Important fact."], scope="/test", categories=["test"], importance=0.9)
    mem.close()
    assert mem._storage.count() == 1


def test_close_drains_and_shuts_down_with_an_owned_client(
    tmp_path: Path, mock_embedder: MagicMock
) -> None:
    """The same, with a storage that opened (and so closes) its own client."""
    from crewai.memory.unified_memory import Memory

    llm = MagicMock()
    llm.supports_function_calling.return_value = False
    storage = AgentMemoryStorage(tmp_path / "own.sqlite3")
    mem = Memory(storage=storage, llm=llm, embedder=mock_embedder)
    mem.remember_many(["Important fact."], scope="/test", categories=["test"], importance=0.9)
    mem.close()  # closes the storage's own client
    assert mem._storage.count() == 1  # opened again on use
    storage.close()
