"""Port of CrewAI ``lib/crewai/tests/memory/test_memory_root_scope.py`` to
``AgentMemoryStorage`` (every ``storage=<path>``, and the default storage a crew or flow
creates, is ours: see this directory's conftest). See tests/upstream/README.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from memory_integrations.crewai import AgentMemoryStorage

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai.*")

NOT_STORAGE = "tests CrewAI's own {what}; no storage takes part"


@pytest.fixture
def mock_embedder() -> MagicMock:
    m = MagicMock()
    m.side_effect = lambda texts: [[0.1] * 1536 for _ in texts]
    return m


def _memory(tmp_path: Path, embedder: Any, name: str = "db", **kwargs: Any) -> Any:
    from crewai.memory.unified_memory import Memory

    kwargs.setdefault("llm", MagicMock())
    return Memory(storage=str(tmp_path / name), embedder=embedder, **kwargs)


@pytest.mark.skip(reason=NOT_STORAGE.format(what="scope-path helpers"))
def test_scope_path_helpers() -> None:
    """Upstream: TestSanitizeScopeName (11 tests), TestNormalizeScopePath (7),
    TestJoinScopePaths (9): sanitize_scope_name / normalize_scope_path / join_scope_paths."""


class TestMemoryRootScope:
    def test_memory_with_root_scope_prepends_to_explicit_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/crew/research-crew")
        assert isinstance(mem._storage, AgentMemoryStorage)
        record = mem.remember(
            "Test content", scope="/market-trends", categories=["test"], importance=0.7
        )
        assert record is not None and record.scope == "/crew/research-crew/market-trends"

    def test_memory_without_root_scope_uses_explicit_scope_directly(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        record = mem.remember(
            "Test content", scope="/explicit", categories=["test"], importance=0.7
        )
        assert record is not None and record.scope == "/explicit"

    def test_memory_root_scope_with_llm_inferred_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        from crewai.memory.analyze import ExtractedMetadata, MemoryAnalysis

        llm = MagicMock()
        llm.supports_function_calling.return_value = True
        llm.call.return_value = MemoryAnalysis(
            suggested_scope="/quarterly-results",
            categories=["finance"],
            importance=0.8,
            extracted_metadata=ExtractedMetadata(),
        )
        mem = _memory(tmp_path, mock_embedder, llm=llm, root_scope="/flow/mypipeline")
        record = mem.remember("Q1 revenue was $1M")
        assert record is not None and record.scope == "/flow/mypipeline/quarterly-results"

    def test_memory_root_scope_per_call_override(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/crew/base")
        record = mem.remember(
            "Test content",
            scope="/inner",
            categories=["test"],
            importance=0.7,
            root_scope="/override/path",
        )
        assert record is not None and record.scope == "/override/path/inner"

    def test_remember_many_with_root_scope(self, tmp_path: Path) -> None:
        from .test_unified_memory import distinct_embedder_factory

        mem = _memory(
            tmp_path,
            MagicMock(side_effect=distinct_embedder_factory()),
            root_scope="/crew/batch-crew",
        )
        mem.remember_many(
            ["Fact A", "Fact B"], scope="/decisions", categories=["test"], importance=0.7
        )
        mem.drain_writes()
        records = mem.list_records()
        assert len(records) == 2
        assert all(r.scope == "/crew/batch-crew/decisions" for r in records)

    def test_remember_many_per_call_root_scope_override(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/default")
        mem.remember_many(
            ["Fact A"],
            scope="/inner",
            categories=["test"],
            importance=0.7,
            root_scope="/agent/researcher",
        )
        mem.drain_writes()
        records = _memory(tmp_path, mock_embedder).list_records()  # a global view, same path
        assert [r.scope for r in records] == ["/agent/researcher/inner"]


class TestRootScopePathNormalization:
    def test_no_double_slashes_in_result(self, tmp_path: Path, mock_embedder: MagicMock) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/crew/test/")
        record = mem.remember("Test", scope="/inner/", categories=["test"], importance=0.5)
        assert record is not None and "//" not in record.scope
        assert record.scope == "/crew/test/inner"

    def test_leading_slash_always_present(self, tmp_path: Path, mock_embedder: MagicMock) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="crew/test")
        record = mem.remember("Test", scope="inner", categories=["test"], importance=0.5)
        assert record is not None and record.scope.startswith("/")

    def test_root_scope_with_root_inner_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/crew/test")
        record = mem.remember("Test", scope="/", categories=["test"], importance=0.5)
        assert record is not None and record.scope == "/crew/test"


def _crew(memory: Any, name: str | None = "Research Crew", **kwargs: Any) -> Any:
    from crewai.agent import Agent
    from crewai.crew import Crew
    from crewai.task import Task

    agent = Agent(
        role="Researcher",
        goal="Research",
        backstory="Expert researcher",
        llm=kwargs.pop("llm", "gpt-4o-mini"),
    )
    task = Task(description="Do research", expected_output="Report", agent=agent)
    named = {"name": name} if name is not None else {}
    return Crew(agents=[agent], tasks=[task], memory=memory, **named, **kwargs), agent


class TestCrewAutoScoping:
    def test_crew_memory_true_sets_root_scope(self) -> None:
        crew, agent = _crew(True)
        assert isinstance(crew._memory._storage, AgentMemoryStorage)  # the default spec is ours
        assert crew._memory.root_scope == "/crew/research-crew"
        assert crew._memory.llm is agent.llm

    def test_crew_memory_true_prefers_chat_llm(self) -> None:
        crew, _ = _crew(True, llm="openai/gpt-4o-mini", chat_llm="ollama/llama3")
        assert crew._memory.llm == "ollama/llama3"

    def test_crew_memory_instance_preserves_no_root_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        assert mem.root_scope is None
        crew, _ = _crew(mem, "Test Crew")
        assert crew._memory is mem and crew._memory.root_scope is None

    def test_crew_respects_existing_root_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/custom/path")
        crew, _ = _crew(mem, "Test Crew")
        assert crew._memory.root_scope == "/custom/path"

    def test_crew_sanitizes_name_for_root_scope(self) -> None:
        crew, _ = _crew(True, "My Awesome Crew #1!")
        assert crew._memory.root_scope == "/crew/my-awesome-crew-1"


@pytest.mark.skip(reason=NOT_STORAGE.format(what="agent executor, with a MagicMock memory"))
def test_agent_scope_extension() -> None:
    """Upstream: TestAgentScopeExtension (2 tests) and TestAgentExecutorBackwardCompat (2):
    the root_scope BaseAgentExecutor passes to remember_many."""


class TestFlowAutoScoping:
    def test_flow_auto_memory_sets_root_scope(self) -> None:
        from crewai.flow.flow import Flow
        from crewai.memory.unified_memory import Memory

        class MyPipelineFlow(Flow):  # type: ignore[type-arg]
            pass

        flow = MyPipelineFlow()
        assert isinstance(flow.memory, Memory) and flow.memory.root_scope == "/flow/mypipelineflow"

    def test_flow_with_name_uses_name_for_root_scope(self) -> None:
        from crewai.flow.flow import Flow
        from crewai.memory.unified_memory import Memory

        class MyFlow(Flow):  # type: ignore[type-arg]
            name = "Custom Pipeline"

        flow = MyFlow()
        assert isinstance(flow.memory, Memory) and flow.memory.root_scope == "/flow/custom-pipeline"

    def test_flow_user_provided_memory_not_overwritten(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        from crewai.flow.flow import Flow

        user_memory = _memory(tmp_path, mock_embedder, root_scope="/custom/scope")

        class MyFlow(Flow):  # type: ignore[type-arg]
            memory = user_memory

        flow = MyFlow()
        assert flow.memory is user_memory and flow.memory.root_scope == "/custom/scope"


class TestBackwardCompatibility:
    def test_memory_without_root_scope_works_normally(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        assert mem.root_scope is None
        record = mem.remember(
            "Test content", scope="/explicit", categories=["test"], importance=0.7
        )
        assert record.scope == "/explicit"

    def test_crew_without_name_uses_default(self) -> None:
        crew, _ = _crew(True, None)
        assert crew._memory.root_scope == "/crew/crew"

    def test_old_memories_at_root_still_accessible(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        record = mem.remember("Old memory at root", scope="/", categories=["old"], importance=0.5)
        assert record.scope == "/"
        assert len(mem.recall("Old memory", scope="/", depth="shallow")) >= 1


class TestEncodingFlowRootScope:
    @pytest.mark.skip(reason=NOT_STORAGE.format(what="join_scope_paths on an ItemState"))
    def test_encoding_flow_fast_path_with_root_scope(self) -> None:
        """Upstream: the join the fast path uses, computed by hand."""

    def test_encoding_flow_llm_path_with_root_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        from crewai.memory.analyze import ExtractedMetadata, MemoryAnalysis

        llm = MagicMock()
        llm.supports_function_calling.return_value = True
        llm.call.return_value = MemoryAnalysis(
            suggested_scope="/llm-inferred",
            categories=["auto"],
            importance=0.7,
            extracted_metadata=ExtractedMetadata(),
        )
        mem = _memory(tmp_path, mock_embedder, llm=llm, root_scope="/flow/pipeline")
        record = mem.remember("Content for LLM analysis")
        assert record is not None and record.scope == "/flow/pipeline/llm-inferred"


class TestMemoryScopeWithRootScope:
    def test_memory_scope_remembers_within_root_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        from crewai.memory.memory_scope import MemoryScope

        mem = _memory(tmp_path, mock_embedder, root_scope="/crew/test")
        scope = MemoryScope(memory=mem, root_path="/agent/1")
        record = scope.remember(
            "Scoped content", scope="/task", categories=["test"], importance=0.5
        )
        assert record is not None and record.scope.startswith("/crew/test/agent/1")


class TestReadIsolation:
    def test_recall_with_root_scope_only_returns_scoped_records(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        everywhere = _memory(tmp_path, mock_embedder)
        everywhere.remember(
            "Global record", scope="/other/scope", categories=["global"], importance=0.5
        )
        everywhere.remember(
            "Crew A record", scope="/crew/crew-a/inner", categories=["crew-a"], importance=0.5
        )
        everywhere.remember(
            "Crew B record", scope="/crew/crew-b/inner", categories=["crew-b"], importance=0.5
        )
        scoped = _memory(tmp_path, mock_embedder, root_scope="/crew/crew-a")
        results = scoped.recall("record", depth="shallow")
        assert [r.record.scope for r in results] == ["/crew/crew-a/inner"]

    def test_recall_with_root_scope_and_explicit_scope_nests(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder, root_scope="/crew/test")
        mem.remember("Nested record", scope="/inner/deep", categories=["test"], importance=0.5)
        results = mem.recall("record", scope="/inner", depth="shallow")
        assert [r.record.scope for r in results] == ["/crew/test/inner/deep"]

    def test_recall_without_root_scope_works_globally(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        mem.remember("Record A", scope="/scope-a", categories=["test"], importance=0.5)
        mem.remember("Record B", scope="/scope-b", categories=["test"], importance=0.5)
        assert len(mem.recall("record", depth="shallow")) == 2

    def test_list_records_defaults_to_root_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        everywhere = _memory(tmp_path, mock_embedder)
        everywhere.remember("Global", scope="/other", categories=["x"], importance=0.5)
        everywhere.remember("Scoped", scope="/crew/a/inner", categories=["x"], importance=0.5)
        records = _memory(tmp_path, mock_embedder, root_scope="/crew/a").list_records()
        assert [r.scope for r in records] == ["/crew/a/inner"]

    def test_list_scopes_defaults_to_root_scope(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        mem.remember("A", scope="/crew/a/child1", categories=["x"], importance=0.5)
        mem.remember("B", scope="/crew/a/child2", categories=["x"], importance=0.5)
        mem.remember("C", scope="/crew/b/other", categories=["x"], importance=0.5)
        scopes = _memory(tmp_path, mock_embedder, root_scope="/crew/a").list_scopes()
        assert "/crew/a/child1" in scopes or "child1" in str(scopes)
        assert "/crew/b" not in scopes

    def test_info_defaults_to_root_scope(self, tmp_path: Path, mock_embedder: MagicMock) -> None:
        mem = _memory(tmp_path, mock_embedder)
        mem.remember("A", scope="/crew/a/inner", categories=["x"], importance=0.5)
        mem.remember("B", scope="/other/inner", categories=["x"], importance=0.5)
        assert _memory(tmp_path, mock_embedder, root_scope="/crew/a").info().record_count == 1

    def test_reset_with_root_scope_only_deletes_scoped_records(
        self, tmp_path: Path, mock_embedder: MagicMock
    ) -> None:
        mem = _memory(tmp_path, mock_embedder)
        mem.remember("A", scope="/crew/a/inner", categories=["x"], importance=0.5)
        mem.remember("B", scope="/other/inner", categories=["x"], importance=0.5)
        _memory(tmp_path, mock_embedder, root_scope="/crew/a").reset()
        records = _memory(tmp_path, mock_embedder).list_records()
        assert [r.scope for r in records] == ["/other/inner"]


@pytest.mark.skip(reason=NOT_STORAGE.format(what="EncodingFlow, on a MagicMock storage"))
def test_consolidation_isolation() -> None:
    """Upstream: TestConsolidationIsolation (2 tests): the scope prefix EncodingFlow passes to
    a mocked storage's search."""
