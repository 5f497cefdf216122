"""The official ``langgraph-checkpoint-conformance`` suite against ``AgentMemorySaver``."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph.checkpoint.conformance")

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.initializer import RegisteredCheckpointer

from memory_integrations.langgraph import AgentMemorySaver
from memory_integrations.storage import SqlDatabase, SQLiteDatabase

# Test counts of langgraph-checkpoint-conformance 0.0.2; a newer suite may only add tests.
_MIN_TESTS = {
    "put": 17,
    "put_writes": 10,
    "get_tuple": 10,
    "list": 16,
    "delete_thread": 5,
    "delete_for_runs": 7,
    "copy_thread": 8,
    "prune": 8,
}


async def _assert_full(
    registered: RegisteredCheckpointer, capsys: pytest.CaptureFixture[str]
) -> None:
    report = await validate(registered)
    report.print_report()
    printed = capsys.readouterr().out
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert failures == {}
    assert report.passed_all_base()
    assert report.conformance_level() == "FULL"
    assert "Result: FULL (8/8)" in printed
    # FULL also holds for a saver implementing nothing extended, so check every capability
    # was detected and actually ran its tests.
    for capability in ALL_CAPABILITIES:
        result = report.results[capability.value]
        assert result.detected, capability
        assert result.passed is True, capability
        assert result.tests_passed >= _MIN_TESTS[capability.value], capability
        assert result.tests_failed == 0


async def test_conformance_fresh_file_per_capability(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counter = itertools.count()

    @checkpointer_test(name="AgentMemorySaver[fresh SQLite file]")
    async def factory() -> AsyncIterator[AgentMemorySaver]:
        db = SQLiteDatabase(tmp_path / f"c{next(counter)}.db")
        saver = AgentMemorySaver(db)
        yield saver
        saver.close()
        db.close()

    await _assert_full(factory, capsys)


@pytest.mark.parametrize("ttl", [None, 3600.0])
async def test_conformance_shared_database(
    db: SqlDatabase, ttl: float | None, capsys: pytest.CaptureFixture[str]
) -> None:
    @checkpointer_test(name=f"AgentMemorySaver[{db.dialect}, ttl={ttl}]")
    async def factory() -> AsyncIterator[AgentMemorySaver]:
        saver = AgentMemorySaver(db, ttl=ttl)
        yield saver
        saver.close()

    await _assert_full(factory, capsys)
