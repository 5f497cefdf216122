"""How ``AgentMemorySaver`` writes when several instances (processes) share one thread, and
how many statements a write costs on PostgreSQL.

On PostgreSQL a ``put`` or ``put_writes`` is a single statement that also opens the thread
(creates it, moves its clock, detects expiry) and only extends an append-delta base that is
still stored as remembered; these tests pin the cases where what one instance remembers is
no longer true because another one changed the thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.runnables import RunnableConfig

from memory_integrations.langgraph import AgentMemorySaver
from memory_integrations.storage import SqlDatabase, open_database

from ..conftest import store_location
from .test_saver import _chain, _count, _latest, _put, _query

if TYPE_CHECKING:
    from tests.conftest import Clock

_ENTRY = "x" * 200  # ~30 entries pass the append-delta threshold


def _delta_rows(db: SqlDatabase, thread_id: str) -> int:
    rows = _query(
        db,
        "SELECT COUNT(*) FROM langgraph_checkpoint_blobs "
        "WHERE thread_id = ? AND base_version IS NOT NULL",
        [thread_id],
    )
    return int(rows[0][0])


def _extend(saver: AgentMemorySaver, thread_id: str, step: int) -> tuple[RunnableConfig, list[str]]:
    """Read the latest checkpoint of ``thread_id`` through ``saver`` and append one entry."""
    latest = _latest(saver, thread_id)
    log: list[str] = []
    versions: dict[str, Any] = {}
    parent = None
    if latest is not None:
        log = list(latest.checkpoint["channel_values"]["log"])
        versions = dict(latest.checkpoint["channel_versions"])
        parent = latest.config
    log.append(f"entry {step} {_ENTRY}")
    versions["log"] = saver.get_next_version(versions.get("log"), None)
    config = _put(
        saver,
        thread_id,
        {"log": log},
        versions=versions,
        new_versions={"log": versions["log"]},
        parent=parent,
        step=step,
    )
    return config, log


def test_two_savers_alternating_on_one_thread_read_each_others_latest(db: SqlDatabase) -> None:
    a, b = AgentMemorySaver(db), AgentMemorySaver(db)  # like two processes
    expected: dict[str, list[str]] = {}
    for step in range(60):
        writer, reader = (a, b) if step % 2 == 0 else (b, a)
        config, log = _extend(writer, "shared", step)
        expected[config["configurable"]["checkpoint_id"]] = log
        latest = _latest(reader, "shared")
        assert latest is not None
        assert (
            latest.config["configurable"]["checkpoint_id"]
            == config["configurable"]["checkpoint_id"]
        )
        assert latest.checkpoint["channel_values"]["log"] == log
    # Both instances wrote deltas on each other's rows, and a third reads every version.
    assert _delta_rows(db, "shared") > 20
    fresh = AgentMemorySaver(db)
    listed = list(fresh.list({"configurable": {"thread_id": "shared"}}))
    assert len(listed) == 60
    for item in listed:
        assert (
            item.checkpoint["channel_values"]["log"]
            == expected[item.config["configurable"]["checkpoint_id"]]
        )


def test_writer_that_missed_the_other_saver_deltas_on_what_it_remembers(db: SqlDatabase) -> None:
    a, b = AgentMemorySaver(db), AgentMemorySaver(db)
    configs = _chain(a, "fork", 40)
    _extend(b, "fork", 40)  # b continues from a's latest; a does not read it
    # a forks from its own last checkpoint: its remembered base is still stored as is.
    log = [f"entry {i} " + "x" * 200 for i in range(40)] + ["a again"]
    versions = {"log": a.get_next_version("00000000000000000000000000000040.0", None)}
    forked = _put(
        a,
        "fork",
        {"log": log},
        versions=versions,
        new_versions=dict(versions),
        parent=configs[-1],
        step=41,
    )
    got = b.get_tuple(forked)
    assert got is not None and got.checkpoint["channel_values"]["log"] == log
    base = _query(
        db,
        "SELECT base_version FROM langgraph_checkpoint_blobs WHERE thread_id = 'fork' "
        "AND version = ?",
        [versions["log"]],
    )
    assert base[0][0] is not None  # written as a delta


def test_delta_base_deleted_by_another_saver_is_written_whole(db: SqlDatabase) -> None:
    a, b = AgentMemorySaver(db), AgentMemorySaver(db)
    _chain(a, "gone", 40)  # a remembers the last version as a delta base
    b.delete_thread("gone")
    config, log = _extend(a, "gone", 40)  # nothing left to read: a fresh one-entry log
    assert log == [f"entry 40 {_ENTRY}"]
    configs = _chain(a, "gone", 1, start=40)  # extends a's own stale memory of the thread
    for saver in (a, b, AgentMemorySaver(db)):
        latest = _latest(saver, "gone")
        assert latest is not None
        assert latest.config == configs[-1]
        assert len(latest.checkpoint["channel_values"]["log"]) == 41
    assert saver.get_tuple(config) is not None
    # The base a remembered no longer exists: nothing may point at it.
    orphans = _query(
        db,
        "SELECT COUNT(*) FROM langgraph_checkpoint_blobs d WHERE d.thread_id = 'gone' "
        "AND d.base_version IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        "langgraph_checkpoint_blobs b WHERE b.thread_id = d.thread_id "
        "AND b.checkpoint_ns = d.checkpoint_ns AND b.channel = d.channel "
        "AND b.version = d.base_version)",
    )
    assert orphans[0][0] == 0


def test_thread_deleted_by_another_saver_gets_its_row_and_ttl_back(
    db: SqlDatabase, clock: Clock
) -> None:
    a = AgentMemorySaver(db, ttl=100, clock=clock)
    b = AgentMemorySaver(db, clock=clock)
    first = _put(a, "t", {"k": "v1"}, step=0)
    b.delete_thread("t")
    clock.advance(0.1)  # within the step in which a would not move the clock again
    second = _put(a, "t", {"k": "v2"}, step=1)
    a.put_writes(second, [("k", "w")], "task")
    assert _query(db, "SELECT ttl_seconds FROM langgraph_threads WHERE thread_id = 't'") == [
        (100.0,)
    ]
    assert a.get_tuple(first) is None
    latest = _latest(b, "t")
    assert latest is not None and latest.pending_writes == [("task", "k", "w")]
    clock.advance(101)
    assert _latest(b, "t") is None  # it still expires


def test_shorter_ttl_of_another_saver_expires_the_thread_for_both(
    db: SqlDatabase, clock: Clock
) -> None:
    long_lived = AgentMemorySaver(db, ttl=1000, clock=clock)
    short = AgentMemorySaver(db, ttl=5, clock=clock)
    first = _put(long_lived, "t", {"k": "v1"}, step=0)
    _put(short, "t", {"k": "v2"}, parent=first, step=1)
    clock.advance(6)
    # Expired through short's TTL: long_lived's write starts a fresh thread.
    third = _put(long_lived, "t", {"k": "v3"}, step=2)
    listed = list(long_lived.list({"configurable": {"thread_id": "t"}}))
    assert [t.config for t in listed] == [third]
    assert _query(db, "SELECT ttl_seconds FROM langgraph_threads WHERE thread_id = 't'") == [
        (1000.0,)
    ]


def test_put_writes_to_an_expired_thread_purges_it_first(db: SqlDatabase, clock: Clock) -> None:
    saver = AgentMemorySaver(db, ttl=10, clock=clock)
    config = _put(saver, "t", {"k": "v"}, step=0)
    clock.advance(11)
    saver.put_writes(config, [("k", "late")], "task")
    assert _count(db, "langgraph_checkpoints", "t") == 0
    assert _count(db, "langgraph_checkpoint_writes", "t") == 1
    state = _query(db, "SELECT last_access, expires_at FROM langgraph_threads")
    assert state == [(clock.now, clock.now + 10)]


def test_savers_with_different_ttls_take_turns_setting_it(db: SqlDatabase, clock: Clock) -> None:
    a = AgentMemorySaver(db, ttl=100, clock=clock)
    b = AgentMemorySaver(db, ttl=50, clock=clock)
    config = _put(a, "t", {"k": 0}, step=0)
    for step in range(1, 5):
        clock.advance(0.01)  # each write comes well within the clock-moving step
        config = _put(b if step % 2 else a, "t", {"k": step}, parent=config, step=step)
        ttl = 50.0 if step % 2 else 100.0
        rows = _query(db, "SELECT ttl_seconds, expires_at FROM langgraph_threads")
        assert rows == [(ttl, clock.now + ttl)]


# --- statements per call on PostgreSQL ----------------------------------------------------


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement and transaction the PostgreSQL storage runs, as a list."""
    from memory_integrations.storage import _postgres

    seen: list[str] = []
    execute, transaction = _postgres._Cursor.execute, _postgres.PostgresDatabase.transaction

    def counting_execute(self: Any, sql: str, params: Any = None, /) -> Any:
        seen.append(sql.split()[0])
        return execute(self, sql, params)

    def counting_transaction(self: Any) -> Any:
        seen.append("transaction")
        return transaction(self)

    monkeypatch.setattr(_postgres._Cursor, "execute", counting_execute)
    monkeypatch.setattr(_postgres.PostgresDatabase, "transaction", counting_transaction)
    yield seen


def test_postgres_put_put_writes_and_get_tuple_are_one_statement_each(
    tmp_path: Path, request: pytest.FixtureRequest, statements: list[str]
) -> None:
    with store_location("postgres", tmp_path, request) as url:
        db = open_database(url)
        try:
            _one_statement_each(db, statements)
        finally:
            db.close()


def _one_statement_each(db: SqlDatabase, statements: list[str]) -> None:
    saver = AgentMemorySaver(db, ttl=3600)
    configs = _chain(saver, "rt", 40)  # long enough for append deltas
    statements.clear()
    config = _chain(saver, "rt", 1, start=40)[0]
    assert statements == ["WITH"]
    statements.clear()
    saver.put_writes(config, [("a", 1), ("b", 2)], "task")
    assert statements == ["WITH"]
    statements.clear()
    latest = _latest(saver, "rt")
    assert statements == ["SELECT"]
    assert latest is not None and latest.config == config
    assert len(latest.checkpoint["channel_values"]["log"]) == 41
    assert [w[1:] for w in latest.pending_writes or []] == [("a", 1), ("b", 2)]
    assert _delta_rows(db, "rt") > 0
    assert configs
