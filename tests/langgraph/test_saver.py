"""Behaviour of ``AgentMemorySaver`` beyond the conformance suite: real graphs, restarts,
TTL, maintenance operations, list filters, writes, append deltas and the async path."""

from __future__ import annotations

import asyncio
import json
import operator
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict, cast

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    empty_checkpoint,
)
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Interrupt, interrupt

import memory_integrations.langgraph as lg_adapter
from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient
from memory_integrations.errors import NotFoundError
from memory_integrations.langgraph import (
    AgentMemorySaver,
    adelete_thread_and_session,
    delete_thread_and_session,
)
from memory_integrations.langgraph._saver_sql import MIGRATIONS
from memory_integrations.langgraph._saver_values import _DELTA_MIN_BODY, _MAX_DEPTH
from memory_integrations.storage import SqlDatabase, open_database

if TYPE_CHECKING:
    from tests.conftest import Clock


# --- a deterministic graph with a human-in-the-loop interrupt -----------------------------


class ReviewState(TypedDict):
    messages: Annotated[list[str], operator.add]
    approved: bool


def _draft(state: ReviewState) -> dict[str, Any]:
    # ~300 characters per message: the list crosses the append-delta threshold quickly.
    n = len(state["messages"])
    return {"messages": [f"draft {n}: " + "lorem ipsum " * 25]}


def _review(state: ReviewState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "messages": len(state["messages"])})
    return {"messages": [f"review: {answer}"], "approved": answer == "yes"}


def _route(state: ReviewState) -> str:
    return END if state["approved"] else "draft"


def build_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    builder = StateGraph(ReviewState)
    builder.add_node("draft", _draft)
    builder.add_node("review", _review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_conditional_edges("review", _route)
    return builder.compile(checkpointer=checkpointer)


def drive(graph: Any, thread_id: str, answers: Sequence[str], *, start: bool) -> dict[str, Any]:
    """Start the thread (if ``start``) and answer each interrupt in turn; the last result."""
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    result: dict[str, Any] = {}
    if start:
        result = graph.invoke({"messages": [], "approved": False}, config)
    for answer in answers:
        result = graph.invoke(Command(resume=answer), config)
    return result


def _without_ids(value: Any) -> Any:
    """Interrupt ids hash checkpoint ids, which differ between savers; compare values only."""
    if isinstance(value, Interrupt):
        return ("interrupt", value.value)
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _history(saver: BaseCheckpointSaver[Any], thread_id: str) -> list[tuple[Any, ...]]:
    """A saver-independent view of a thread: per checkpoint, oldest first."""
    rows = []
    for t in saver.list({"configurable": {"thread_id": thread_id}}):
        rows.append(
            (
                t.config["configurable"]["checkpoint_ns"],
                t.metadata.get("step"),
                t.metadata.get("source"),
                json.dumps(t.checkpoint["channel_values"], sort_keys=True, default=repr),
                sorted((w[1], repr(_without_ids(w[2]))) for w in t.pending_writes or []),
                t.parent_config is None,
            )
        )
    # Oldest first within each namespace; savers order namespaces differently.
    return sorted(rows[::-1], key=lambda r: r[0])


# --- real graphs --------------------------------------------------------------------------


def test_graph_interrupt_and_resume_matches_in_memory_saver(saver: AgentMemorySaver) -> None:
    reference = InMemorySaver()
    ours, theirs = build_graph(saver), build_graph(reference)

    first = ours.invoke({"messages": [], "approved": False}, {"configurable": {"thread_id": "t"}})
    assert first["__interrupt__"][0].value == {"question": "approve?", "messages": 1}
    state = ours.get_state({"configurable": {"thread_id": "t"}})
    assert state.next == ("review",)
    assert state.tasks[0].interrupts[0].value["messages"] == 1

    answers = ["no", "no", "no", "no", "no", "no", "yes"]
    final = drive(ours, "t", answers, start=False)
    expected = drive(theirs, "t", answers, start=True)
    assert final == expected
    assert final["approved"] is True
    assert len(final["messages"]) == 2 * len(answers)
    assert final["messages"][-1] == "review: yes"
    assert ours.get_state({"configurable": {"thread_id": "t"}}).next == ()

    # Every checkpoint, its values and its pending writes match the reference saver.
    assert _history(saver, "t") == _history(reference, "t")
    # The message list grew past the delta threshold, so append deltas were really used.
    deltas = _query(
        saver.db, "SELECT COUNT(*) FROM langgraph_checkpoint_blobs WHERE base_version IS NOT NULL"
    )
    assert deltas[0][0] > 0


def _fork_scenario(saver: BaseCheckpointSaver[Any]) -> tuple[Any, ...]:
    graph = build_graph(saver)
    drive(graph, "t", ["no", "no", "no", "no"], start=True)
    config: RunnableConfig = {"configurable": {"thread_id": "t"}}
    history = list(graph.get_state_history(config))
    # Fork from an earlier interrupted state: edit it, then take a different branch.
    fork_point = next(
        s for s in history if s.next == ("review",) and len(s.values["messages"]) == 5
    )
    forked_config = graph.update_state(fork_point.config, {"messages": ["edited"]})
    forked = graph.invoke(Command(resume="yes"), forked_config)
    # The original branch's checkpoints still load with their own values.
    for snapshot in history:
        assert graph.get_state(snapshot.config).values == snapshot.values
    return forked, len(history), _history(saver, "t")


def test_time_travel_fork_matches_in_memory_saver(saver: AgentMemorySaver) -> None:
    ours = _fork_scenario(saver)
    assert ours == _fork_scenario(InMemorySaver())
    forked = ours[0]
    assert forked["approved"] is True
    assert forked["messages"][5:] == ["edited", "review: yes"]


def _subgraph_scenario(saver: BaseCheckpointSaver[Any], reopen: bool) -> tuple[Any, ...]:
    class Inner(TypedDict):
        items: Annotated[list[str], operator.add]

    def ask(state: Inner) -> dict[str, Any]:
        return {"items": [f"answer={interrupt('inner?')}"]}

    inner = StateGraph(Inner)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    inner.add_edge("ask", END)
    outer = StateGraph(Inner)
    outer.add_node("sub", inner.compile(checkpointer=True))
    outer.add_node("after", lambda s: {"items": ["after"]})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    outer.add_edge("after", END)

    config: RunnableConfig = {"configurable": {"thread_id": "s"}}
    outer.compile(checkpointer=saver).invoke({"items": ["start"]}, config)
    namespaces = sorted({t.config["configurable"]["checkpoint_ns"] for t in saver.list(config)})
    if reopen:  # a fresh saver on the same database resumes inside the subgraph
        saver = AgentMemorySaver(cast(AgentMemorySaver, saver).db)
    result = outer.compile(checkpointer=saver).invoke(Command(resume="42"), config)
    return result, namespaces, _history(saver, "s")


def test_subgraph_namespaces_match_in_memory_saver(saver: AgentMemorySaver) -> None:
    ours = _subgraph_scenario(saver, reopen=True)
    assert ours == _subgraph_scenario(InMemorySaver(), reopen=False)
    assert ours[1] == ["", "sub"]
    assert ours[0]["items"][-2:] == ["answer=42", "after"]


def test_thread_survives_a_process_restart(db_path: Any) -> None:
    db = open_database(str(db_path))
    first = AgentMemorySaver(db)
    drive(build_graph(first), "restart", ["no", "no", "no"], start=True)
    first.close()
    db.close()

    # A brand-new Python process opens the same database and finishes the thread.
    src = Path(lg_adapter.__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    answers = ["no", "no", "yes"]
    done = subprocess.run(
        [sys.executable, __file__, str(db_path), "restart", json.dumps(answers)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    child_result = json.loads(done.stdout.strip().splitlines()[-1])

    reference = InMemorySaver()
    expected = drive(build_graph(reference), "restart", ["no", "no", "no", *answers], start=True)
    assert child_result == expected["messages"]
    db = open_database(str(db_path))
    try:
        reopened = AgentMemorySaver(db)
        state = build_graph(reopened).get_state({"configurable": {"thread_id": "restart"}})
        assert state.values == expected
        assert _history(reopened, "restart") == _history(reference, "restart")
    finally:
        db.close()


def test_a_live_saver_sees_what_another_process_wrote(db_path: Any) -> None:
    """The in-process value cache never hides checkpoints written elsewhere."""
    db = open_database(str(db_path))
    live = AgentMemorySaver(db)
    try:
        drive(build_graph(live), "shared", ["no", "no"], start=True)
        before = build_graph(live).get_state({"configurable": {"thread_id": "shared"}}).values
        src = Path(lg_adapter.__file__).resolve().parents[2]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
        }
        answers = ["no", "yes"]
        done = subprocess.run(
            [sys.executable, __file__, str(db_path), "shared", json.dumps(answers)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        after = build_graph(live).get_state({"configurable": {"thread_id": "shared"}}).values
        reference = InMemorySaver()
        expected = drive(build_graph(reference), "shared", ["no", "no", *answers], start=True)
        assert after == expected != before
        assert _history(live, "shared") == _history(reference, "shared")
    finally:
        live.close()
        db.close()


async def test_async_graph_with_ainvoke(saver: AgentMemorySaver) -> None:
    graph = build_graph(saver)
    reference = build_graph(InMemorySaver())
    results = []
    for g in (graph, reference):
        config: RunnableConfig = {"configurable": {"thread_id": "a"}}
        out = await g.ainvoke({"messages": [], "approved": False}, config)
        assert "__interrupt__" in out
        for answer in ["no", "no", "yes"]:
            out = await g.ainvoke(Command(resume=answer), config)
        results.append(out)
    assert results[0] == results[1]
    assert (await graph.aget_state({"configurable": {"thread_id": "a"}})).values == results[0]
    listed = [t async for t in saver.alist({"configurable": {"thread_id": "a"}})]
    assert [t.config for t in listed] == [
        t.config for t in saver.list({"configurable": {"thread_id": "a"}})
    ]


async def test_async_threads_run_concurrently(saver: AgentMemorySaver) -> None:
    graph = build_graph(saver)

    async def one(thread_id: str) -> dict[str, Any]:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        await graph.ainvoke({"messages": [], "approved": False}, config)
        return dict(await graph.ainvoke(Command(resume="yes"), config))

    results = await asyncio.gather(*(one(f"c{i}") for i in range(8)))
    assert all(r["approved"] and len(r["messages"]) == 2 for r in results)
    async for _ in saver.alist(None, limit=1):
        break  # an abandoned async iterator must not hold the database
    assert await saver.aget_tuple({"configurable": {"thread_id": "c7"}}) is not None


def test_sync_threads_share_one_saver(saver: AgentMemorySaver) -> None:
    graph = build_graph(saver)
    errors: list[BaseException] = []

    def run(thread_id: str) -> None:
        try:
            drive(graph, thread_id, ["no", "yes"], start=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    for i in range(6):
        values = graph.get_state({"configurable": {"thread_id": f"w{i}"}}).values
        assert values["approved"] is True and len(values["messages"]) == 4


# --- direct API helpers -------------------------------------------------------------------


def _put(
    saver: AgentMemorySaver,
    thread_id: str,
    values: dict[str, Any],
    *,
    ns: str = "",
    parent: RunnableConfig | None = None,
    versions: dict[str, Any] | None = None,
    new_versions: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    step: int = 0,
) -> RunnableConfig:
    checkpoint = empty_checkpoint()
    checkpoint["id"] = str(uuid6(clock_seq=step))
    checkpoint["channel_values"] = dict(values)
    all_versions = versions if versions is not None else dict.fromkeys(values, 1)
    checkpoint["channel_versions"] = dict(all_versions)
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
    if parent is not None:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    md = {"source": "loop", "step": step, "parents": {}, **(metadata or {})}
    return saver.put(
        config,
        checkpoint,
        CheckpointMetadata(**md),  # type: ignore[typeddict-item]
        new_versions if new_versions is not None else dict(all_versions),
    )


def _latest(saver: AgentMemorySaver, thread_id: str, ns: str = "") -> CheckpointTuple | None:
    return saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}})


def _query(db: SqlDatabase, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one read query (portable ``?`` placeholders) and fetch every row."""
    with db.read() as cur:
        return list(cur.execute(sql, params).fetchall())


def _count(db: SqlDatabase, table: str, thread_id: str) -> int:
    return int(_query(db, f"SELECT COUNT(*) FROM {table} WHERE thread_id = ?", [thread_id])[0][0])


def _chain(saver: AgentMemorySaver, thread_id: str, steps: int, *, start: int = 0) -> list[Any]:
    """Put ``steps`` checkpoints whose ``log`` list grows by one ~200-byte entry each."""
    log: list[str] = [f"entry {i} " + "x" * 200 for i in range(start)]
    versions: dict[str, Any] = {}
    parent = None
    configs = []
    for step in range(start, start + steps):
        log = [*log, f"entry {step} " + "x" * 200]
        versions["log"] = saver.get_next_version(versions.get("log"), None)
        versions["step"] = saver.get_next_version(versions.get("step"), None)
        parent = _put(
            saver,
            thread_id,
            {"log": log, "step": step},
            versions=dict(versions),
            new_versions={"log": versions["log"], "step": versions["step"]},
            parent=parent,
            step=step,
        )
        configs.append(parent)
    return configs


# --- TTL ----------------------------------------------------------------------------------


def test_expired_thread_is_invisible_before_sweeping(db: SqlDatabase, clock: Clock) -> None:
    saver = AgentMemorySaver(db, ttl=10, clock=clock)
    stored = _put(saver, "read", {"k": "v"})
    _put(saver, "unread", {"k": "w"})
    clock.advance(5)
    assert _latest(saver, "read") is not None  # refreshes "read" until t=15

    clock.advance(6)  # t=11
    assert _latest(saver, "read") is not None
    assert _latest(saver, "unread") is None
    assert [t.config["configurable"]["thread_id"] for t in saver.list(None)] == ["read"]

    clock.advance(20)  # t=31
    assert _latest(saver, "read") is None
    assert saver.get_tuple(stored) is None
    assert list(saver.list({"configurable": {"thread_id": "read"}})) == []
    assert list(saver.list(None)) == []
    # Still on disk until swept.
    assert _count(db, "langgraph_checkpoints", "read") == 1
    assert saver.sweep_expired() == 2
    for table in ("langgraph_checkpoints", "langgraph_checkpoint_blobs", "langgraph_threads"):
        assert _count(db, table, "read") == 0
        assert _count(db, table, "unread") == 0
    assert saver.sweep_expired() == 0


def test_refresh_on_read_can_be_disabled(db: SqlDatabase, clock: Clock) -> None:
    saver = AgentMemorySaver(db, ttl=10, refresh_on_read=False, clock=clock)
    _put(saver, "t", {"k": "v"})
    clock.advance(9)
    assert _latest(saver, "t") is not None
    clock.advance(2)
    assert _latest(saver, "t") is None


def test_writes_refresh_and_expiry_is_whole_thread(db: SqlDatabase, clock: Clock) -> None:
    saver = AgentMemorySaver(db, ttl=10, refresh_on_read=False, clock=clock)
    first = _put(saver, "t", {"k": "v1"}, step=0)
    clock.advance(8)
    second = _put(saver, "t", {"k": "v2"}, parent=first, step=1)
    clock.advance(8)  # 16 s after the first checkpoint, 8 s after the second
    listed = list(saver.list({"configurable": {"thread_id": "t"}}))
    assert [t.config["configurable"]["checkpoint_id"] for t in listed] == [
        second["configurable"]["checkpoint_id"],
        first["configurable"]["checkpoint_id"],
    ]
    saver.put_writes(second, [("ch", 1)], "task")  # a write refreshes too
    clock.advance(8)
    assert _latest(saver, "t") is not None
    clock.advance(3)
    assert _latest(saver, "t") is None


def test_write_to_expired_thread_starts_fresh(db: SqlDatabase, clock: Clock) -> None:
    saver = AgentMemorySaver(db, ttl=10, clock=clock)
    _put(saver, "t", {"k": "old"}, step=0)
    clock.advance(11)
    _put(saver, "t", {"k": "new"}, step=1)
    listed = list(saver.list({"configurable": {"thread_id": "t"}}))
    assert len(listed) == 1
    assert listed[0].checkpoint["channel_values"] == {"k": "new"}


def test_thread_ttl_is_kept_by_savers_without_ttl(db: SqlDatabase, clock: Clock) -> None:
    with_ttl = AgentMemorySaver(db, ttl=10, refresh_on_read=False, clock=clock)
    without = AgentMemorySaver(db, refresh_on_read=False, clock=clock)
    parent = _put(with_ttl, "t", {"k": 0}, step=0)
    for step in (1, 2):  # each write moves the clock and keeps the thread's 10 s TTL
        clock.advance(5)
        parent = _put(without, "t", {"k": step}, parent=parent, step=step)
    _put(without, "forever", {"k": 3})
    clock.advance(9)
    assert _latest(without, "t") is not None
    clock.advance(2)
    assert _latest(without, "t") is None
    clock.advance(10_000)
    assert _latest(without, "forever") is not None


def test_background_sweeper_deletes_and_stops(db: SqlDatabase) -> None:
    saver = AgentMemorySaver(db, ttl=0.2, sweep_interval=0.05)
    _put(saver, "t", {"k": "v"})
    assert _count(db, "langgraph_checkpoints", "t") == 1
    deadline = time.monotonic() + 3
    while _count(db, "langgraph_checkpoints", "t") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _count(db, "langgraph_checkpoints", "t") == 0
    sweeper = saver._sweeper
    assert sweeper is not None and sweeper.is_alive()
    saver.close()
    assert not sweeper.is_alive()


def test_invalid_settings_are_rejected(db: SqlDatabase) -> None:
    with pytest.raises(ValueError, match="ttl"):
        AgentMemorySaver(db, ttl=0)
    with pytest.raises(ValueError, match="sweep_interval"):
        AgentMemorySaver(db, sweep_interval=-1)


# --- maintenance --------------------------------------------------------------------------


def test_delete_thread_removes_all_rows_of_that_thread_only(saver: AgentMemorySaver) -> None:
    for thread_id in ("a", "b"):
        _chain(saver, thread_id, 3)
        stored = _latest(saver, thread_id)
        assert stored is not None
        saver.put_writes(stored.config, [("x", 1)], "task")
    saver.delete_thread("a")
    for table in (
        "langgraph_checkpoints",
        "langgraph_checkpoint_blobs",
        "langgraph_checkpoint_writes",
        "langgraph_threads",
    ):
        assert _count(saver.db, table, "a") == 0, table
        assert _count(saver.db, table, "b") > 0, table


def test_copy_thread_is_independent_of_its_source(saver: AgentMemorySaver) -> None:
    configs = _chain(saver, "src", 45)  # long enough for delta chains
    saver.put_writes(configs[-1], [("note", "pending")], "task-1", "path")
    _put(saver, "src", {"inner": [1, 2, 3]}, ns="child:1")
    before = _history(saver, "src")

    saver.copy_thread("src", "dst")
    assert _history(saver, "dst") == before
    saver.delete_thread("src")
    assert _history(saver, "dst") == before
    latest = _latest(saver, "dst")
    assert latest is not None and latest.pending_writes == [("task-1", "note", "pending")]
    assert len(latest.checkpoint["channel_values"]["log"]) == 45

    saver.copy_thread("missing", "dst2")
    assert list(saver.list({"configurable": {"thread_id": "dst2"}})) == []


def test_copy_of_expired_source_copies_nothing(db: SqlDatabase, clock: Clock) -> None:
    saver = AgentMemorySaver(db, ttl=10, clock=clock)
    _put(saver, "src", {"k": 1})
    clock.advance(11)
    saver.copy_thread("src", "dst")
    assert _count(db, "langgraph_checkpoints", "dst") == 0


def test_prune_keep_latest_keeps_a_loadable_latest_state(saver: AgentMemorySaver) -> None:
    _chain(saver, "p", 80)  # several full copies and delta chains
    _chain(saver, "other", 5)
    _put(saver, "p", {"sub": "x"}, ns="child:1", step=0)
    _put(saver, "p", {"sub": "y"}, ns="child:1", step=1)
    blobs_before = _count(saver.db, "langgraph_checkpoint_blobs", "p")
    expected = _latest(saver, "p")
    assert expected is not None

    saver.prune(["p"], strategy="keep_latest")
    listed = list(saver.list({"configurable": {"thread_id": "p"}}))
    assert {(t.config["configurable"]["checkpoint_ns"], t.metadata["step"]) for t in listed} == {
        ("", 79),
        ("child:1", 1),
    }
    latest = _latest(saver, "p")
    assert latest is not None
    assert latest.checkpoint == expected.checkpoint
    assert latest.checkpoint["channel_values"]["log"][-1].startswith("entry 79 ")
    # Blob rows the latest state does not need are gone; the delta chain it needs stays.
    blobs_after = _count(saver.db, "langgraph_checkpoint_blobs", "p")
    assert 1 < blobs_after <= _MAX_DEPTH + 2 < blobs_before
    assert len(list(saver.list({"configurable": {"thread_id": "other"}}))) == 5

    saver.prune(["p"], strategy="delete")
    assert _latest(saver, "p") is None and _count(saver.db, "langgraph_threads", "p") == 0
    with pytest.raises(ValueError, match="strategy"):
        saver.prune(["other"], strategy="everything")


def test_prune_refuses_delta_channel_threads(saver: AgentMemorySaver) -> None:
    _put(saver, "d", {"k": 1}, metadata={"counters_since_delta_snapshot": {"k": [1, 1]}})
    with pytest.raises(ValueError, match="DeltaChannel"):
        saver.prune(["d"])
    assert _latest(saver, "d") is not None


def test_delete_for_runs_keeps_values_of_other_runs(saver: AgentMemorySaver) -> None:
    log = [f"entry {i} " + "x" * 200 for i in range(30)]
    versions = {"log": 1}
    first = _put(saver, "r", {"log": log}, versions=versions, metadata={"run_id": "run-1"})
    second = _put(
        saver,
        "r",
        {"log": log, "extra": "z" * 600},
        versions={"log": 1, "extra": 1},
        new_versions={"extra": 1},
        parent=first,
        metadata={"run_id": "run-2"},
        step=1,
    )
    saver.put_writes(first, [("w", 1)], "t1")
    saver.delete_for_runs(["run-1", "unknown"])
    assert saver.get_tuple(first) is None
    remaining = saver.get_tuple(second)
    assert remaining is not None
    # "log" was written by run-1's checkpoint but run-2's still needs it.
    assert remaining.checkpoint["channel_values"] == {"log": log, "extra": "z" * 600}
    assert _count(saver.db, "langgraph_checkpoint_writes", "r") == 0
    saver.delete_for_runs([])


def test_graph_runs_can_be_deleted_by_run_id(saver: AgentMemorySaver) -> None:
    graph = build_graph(saver)
    config: RunnableConfig = {"configurable": {"thread_id": "g", "run_id": "run-a"}}
    graph.invoke({"messages": [], "approved": False}, config)
    tagged = [t for t in saver.list(config) if t.metadata.get("run_id") == "run-a"]
    assert tagged
    saver.delete_for_runs(["run-a"])
    assert [t for t in saver.list(config) if t.metadata.get("run_id") == "run-a"] == []


# --- list ---------------------------------------------------------------------------------


def test_list_filters_before_limit_and_namespaces(saver: AgentMemorySaver) -> None:
    a0 = _put(saver, "l", {"k": 0}, metadata={"source": "input", "user": "ann", "n": 1}, step=0)
    a1 = _put(saver, "l", {"k": 1}, parent=a0, metadata={"user": "bob", "flag": True}, step=1)
    a2 = _put(saver, "l", {"k": 2}, parent=a1, metadata={"user": "ann", "tags": ["x"]}, step=2)
    _put(saver, "l", {"k": 9}, ns="child:1", metadata={"user": "ann"}, step=3)
    _put(saver, "other", {"k": 5}, metadata={"user": "ann"}, step=4)

    def ids(*args: Any, **kwargs: Any) -> list[Any]:
        return [t.metadata["step"] for t in saver.list(*args, **kwargs)]

    root: RunnableConfig = {"configurable": {"thread_id": "l", "checkpoint_ns": ""}}
    any_ns: RunnableConfig = {"configurable": {"thread_id": "l"}}
    assert ids(root) == [2, 1, 0]
    assert ids(any_ns) == [3, 2, 1, 0]
    assert ids(None) == [4, 3, 2, 1, 0]
    assert ids(root, filter={"user": "ann"}) == [2, 0]
    assert ids(None, filter={"user": "ann"}) == [4, 3, 2, 0]
    assert ids(root, filter={"user": "ann", "step": 0}) == [0]
    assert ids(root, filter={"flag": True}) == [1]
    assert ids(root, filter={"n": 1.0}) == [0]
    assert ids(root, filter={"tags": ["x"]}) == [2]  # compared in Python
    assert ids(root, filter={"missing": None}) == [2, 1, 0]
    assert ids(root, filter={'odd"key': None}) == [2, 1, 0]
    assert ids(root, filter={"user": "nobody"}) == []
    assert ids(root, before=a2) == [1, 0]
    assert ids(root, before=a2, limit=1) == [1]
    assert ids(root, limit=0) == []
    assert ids(root, filter={"tags": ["x"]}, limit=1) == [2]
    exact: RunnableConfig = {"configurable": {**a1["configurable"]}}
    assert ids(exact) == [1]


def test_list_filter_dotted_keys_match_nested_metadata(saver: AgentMemorySaver) -> None:
    """A dotted filter key names a nested field (SqliteSaver's JSON path reading), unless the
    metadata has that dotted key itself; hyphens and leading digits work in either place."""
    _put(
        saver,
        "n",
        {"k": 0},
        metadata={"user": {"access-level": "admin", "123abc": "ok2"}, "access-level": "pub"},
        step=0,
    )
    _put(saver, "n2", {"k": 1}, metadata={"user": {"access-level": "guest"}}, step=1)
    _put(saver, "n3", {"k": 2}, metadata={"user.access-level": "admin"}, step=2)
    _put(saver, "n4", {"k": 3}, metadata={"user": "admin"}, step=3)

    def steps(filter: dict[str, Any], limit: int | None = None) -> list[Any]:
        return sorted(t.metadata["step"] for t in saver.list(None, filter=filter, limit=limit))

    assert steps({"user.access-level": "admin"}) == [0, 2]  # nested, and the literal key
    assert steps({"user.access-level": "guest"}) == [1]
    assert steps({"user.123abc": "ok2"}) == [0]
    assert steps({"access-level": "pub"}) == [0]
    assert steps({"user.access-level": "admin", "access-level": "pub"}) == [0]
    assert steps({"user.access-level": None}) == [3]  # absent (a string has no fields)
    assert steps({"user.missing.deeper": "x"}) == []
    assert len(steps({"user.access-level": "admin"}, limit=1)) == 1


def test_list_pages_through_long_threads_and_id_ties(saver: AgentMemorySaver) -> None:
    configs = _chain(saver, "long", 230)
    saver.copy_thread("long", "twin")  # identical checkpoint ids in two threads
    # One newer checkpoint shifts the page boundaries so a page ends inside a tied pair.
    _put(saver, "long", {"k": 1}, parent=configs[-1], step=230)
    everything = list(saver.list(None))
    assert len(everything) == 461
    keys = [(t.config["configurable"]["thread_id"], t.checkpoint["id"]) for t in everything]
    assert len(set(keys)) == 461
    assert [t.checkpoint["id"] for t in everything] == sorted(
        (t.checkpoint["id"] for t in everything), reverse=True
    )
    one = list(saver.list({"configurable": {"thread_id": "long", "checkpoint_ns": ""}}, limit=150))
    assert [t.config for t in one][1:] == list(reversed(configs))[:149]
    for t in one[1::37]:
        step = t.metadata["step"]
        assert len(t.checkpoint["channel_values"]["log"]) == step + 1


# --- put / put_writes / get_tuple details -------------------------------------------------


def test_pending_writes_idempotency_and_order(saver: AgentMemorySaver) -> None:
    stored = _put(saver, "w", {"k": 1})
    saver.put_writes(stored, [("a", "first"), ("b", "first")], "task-2", "~path, 2")
    saver.put_writes(stored, [("a", "second"), ("b", "second")], "task-2", "~path, 2")
    saver.put_writes(stored, [("__error__", "boom-1")], "task-1", "~path, 1")
    saver.put_writes(stored, [("__error__", "boom-2")], "task-1", "~path, 1")
    saver.put_writes(stored, [("c", 1)], "task-0", "~path, 3")
    saver.put_writes(stored, [("__interrupt__", "pause")], "task-3", "")
    saver.put_writes(stored, [], "task-4")
    tup = saver.get_tuple(stored)
    assert tup is not None
    assert tup.pending_writes == [
        ("task-3", "__interrupt__", "pause"),  # empty task_path sorts first
        ("task-1", "__error__", "boom-2"),  # special writes are upserted
        ("task-2", "a", "first"),  # normal writes: first write wins
        ("task-2", "b", "first"),
        ("task-0", "c", 1),
    ]
    child = _put(saver, "w", {"k": 2}, parent=stored, step=1)
    again = saver.get_tuple(child)
    assert again is not None and again.pending_writes == []
    assert again.parent_config is not None
    assert (
        again.parent_config["configurable"]["checkpoint_id"]
        == stored["configurable"]["checkpoint_id"]
    )


def test_channel_values_round_trip_and_dropped_channels(saver: AgentMemorySaver) -> None:
    big = {"doc": "y" * 5000, "nums": list(range(100))}
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    values = {"s": "short", "n": 3, "f": 1.5, "none": None, "b": True, "big": big, "when": when}
    first = _put(saver, "v", values, versions=dict.fromkeys(values, 1))
    tup = saver.get_tuple(first)
    assert tup is not None and tup.checkpoint["channel_values"] == values
    # "gone" is versioned but has no value (an empty channel); "big" is dropped entirely.
    second = _put(
        saver,
        "v",
        {"s": "short", "n": 4},
        versions={"s": 1, "n": 2, "gone": 1},
        new_versions={"n": 2, "gone": 1},
        parent=first,
        step=1,
    )
    tup2 = saver.get_tuple(second)
    assert tup2 is not None and tup2.checkpoint["channel_values"] == {"s": "short", "n": 4}
    assert saver.get_tuple(first).checkpoint["channel_values"] == values  # type: ignore[union-attr]


def test_unchanged_channels_are_not_rewritten(saver: AgentMemorySaver) -> None:
    doc = {"doc": "z" * 20_000}
    v = {"doc": 1, "n": 1}
    parent = _put(saver, "u", {"doc": doc, "n": 0}, versions=dict(v))
    for step in range(1, 20):
        v["n"] = step + 1
        parent = _put(
            saver,
            "u",
            {"doc": doc, "n": step},
            versions=dict(v),
            new_versions={"n": v["n"]},
            parent=parent,
            step=step,
        )
    rows = _query(
        saver.db,
        "SELECT channel, COUNT(*) FROM langgraph_checkpoint_blobs WHERE thread_id = 'u' "
        "GROUP BY channel",
    )
    assert dict(rows) == {"doc": 1}  # written once; the small counter stays inline
    latest = _latest(saver, "u")
    assert latest is not None and latest.checkpoint["channel_values"] == {"doc": doc, "n": 19}


def test_metadata_that_json_cannot_hold_round_trips(saver: AgentMemorySaver) -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    md = {
        "when": when,
        "raw": b"\x00raw",
        "user": "ann",
        "n\u0000ul": "a\u0000b",  # langgraph strips NUL from top-level values only
        "nested": {"k": "x\u0000y"},
    }
    stored = _put(saver, "m", {"k": 1}, metadata=md)
    tup = saver.get_tuple(stored)
    assert tup is not None
    assert tup.metadata["when"] == when  # type: ignore[typeddict-item]
    assert tup.metadata["raw"] == b"\x00raw"  # type: ignore[typeddict-item]
    assert tup.metadata["n\u0000ul"] == "ab"  # type: ignore[typeddict-item]
    assert tup.metadata["nested"] == {"k": "x\u0000y"}  # type: ignore[typeddict-item]
    assert [t.metadata["step"] for t in saver.list(None, filter={"user": "ann"})] == [0]


def test_config_and_metadata_merging(saver: AgentMemorySaver) -> None:
    checkpoint = empty_checkpoint()
    config: RunnableConfig = {
        "configurable": {"thread_id": 7, "checkpoint_ns": "", "user_id": "u1", "__hidden": 1},
        "metadata": {"tenant": "acme"},
    }
    out = saver.put(config, checkpoint, {"source": "input", "step": -1}, {})
    assert out["configurable"]["checkpoint_id"] == checkpoint["id"]
    tup = saver.get_tuple({"configurable": {"thread_id": "7"}})
    assert tup is not None
    assert tup.metadata == {"source": "input", "step": -1, "user_id": "u1", "tenant": "acme"}
    assert tup.config["configurable"] == {
        "thread_id": "7",
        "checkpoint_ns": "",
        "checkpoint_id": checkpoint["id"],
    }


def test_next_version_format_is_monotonic(saver: AgentMemorySaver) -> None:
    v1 = saver.get_next_version(None, None)
    v2 = saver.get_next_version(v1, None)
    assert v1.startswith("0" * 31 + "1.") and v2.startswith("0" * 31 + "2.")
    assert v1 < v2 < saver.get_next_version(v2, None)
    assert saver.get_next_version(41, None).split(".")[0] == f"{42:032}"
    reference = InMemorySaver().get_next_version(v1, None)
    assert reference.split(".")[0] == v2.split(".")[0]
    assert 0 <= float("0." + v2.split(".", 1)[1].split(".", 1)[1]) < 1


# --- append deltas ------------------------------------------------------------------------


def test_append_deltas_store_growing_lists_compactly(saver: AgentMemorySaver) -> None:
    configs = _chain(saver, "grow", 100)
    rows = _query(
        saver.db,
        "SELECT base_version IS NOT NULL, depth, LENGTH(blob) FROM "
        "langgraph_checkpoint_blobs WHERE thread_id = 'grow' AND channel = 'log'",
    )
    deltas = [r for r in rows if r[0]]
    assert len(rows) == 100
    assert len(deltas) > 80
    assert max(r[1] for r in rows) == _MAX_DEPTH
    assert max(r[2] for r in deltas) < 300  # one entry each, not the whole list
    # Every version reads back exactly.
    for step, config in enumerate(configs):
        tup = saver.get_tuple(config)
        assert tup is not None
        log = tup.checkpoint["channel_values"]["log"]
        assert len(log) == step + 1 and log[-1].startswith(f"entry {step} ")


def test_append_deltas_continue_across_saver_instances(db: SqlDatabase) -> None:
    first = AgentMemorySaver(db)
    _chain(first, "x", 20)
    second = AgentMemorySaver(db)  # like a restarted process: it knows nothing yet
    latest = _latest(second, "x")  # langgraph reads the thread before it continues
    assert latest is not None
    versions = dict(latest.checkpoint["channel_versions"])
    log = [*latest.checkpoint["channel_values"]["log"], "entry 20 " + "x" * 200]
    versions["log"] = second.get_next_version(versions["log"], None)
    _put(
        second,
        "x",
        {"log": log},
        versions=versions,
        new_versions={"log": versions["log"]},
        parent=latest.config,
        step=20,
    )
    base = _query(
        db,
        "SELECT base_version FROM langgraph_checkpoint_blobs WHERE thread_id = 'x' "
        "AND channel = 'log' AND version = ?",
        [versions["log"]],
    )[0][0]
    assert base == latest.checkpoint["channel_versions"]["log"]
    assert _latest(first, "x").checkpoint["channel_values"]["log"] == log  # type: ignore[union-attr]


def test_stale_delta_base_falls_back_to_a_full_copy(db: SqlDatabase) -> None:
    a, b = AgentMemorySaver(db), AgentMemorySaver(db)
    long_a = [f"a{i} " + "x" * 200 for i in range(30)]
    long_b = [f"b{i} " + "y" * 200 for i in range(30)]
    assert len(json.dumps(long_a)) > _DELTA_MIN_BODY
    first = _put(a, "s", {"log": long_a}, versions={"log": 1}, step=0)
    # Another instance replaces the thread, reusing the same version string.
    b.delete_thread("s")
    first = _put(b, "s", {"log": long_b}, versions={"log": 1}, step=0)
    # ``a`` still remembers long_a at version 1, which is no longer what is stored.
    _put(a, "s", {"log": [*long_a, "more"]}, versions={"log": 2}, parent=first, step=1)
    latest = _latest(b, "s")
    assert latest is not None and latest.checkpoint["channel_values"]["log"] == [*long_a, "more"]
    assert _no_delta_rows(db, "s")


def _no_delta_rows(db: SqlDatabase, thread_id: str) -> bool:
    deltas = _query(
        db,
        "SELECT COUNT(*) FROM langgraph_checkpoint_blobs "
        "WHERE thread_id = ? AND base_version IS NOT NULL",
        [thread_id],
    )
    return int(deltas[0][0]) == 0


# --- the memory client ---------------------------------------------------------------


def test_checkpoints_live_in_the_client_database(client: AgentMemoryClient) -> None:
    saver = AgentMemorySaver(client)
    assert saver.db is client.database
    assert AgentMemorySaver(AsyncAgentMemoryClient.from_client(client)).db is client.database
    session = client.create_user("u", "User").create_session("conv")
    session.add_memory(facts=["likes green tea"], async_processing=False)
    final = drive(build_graph(saver), "conv", ["yes"], start=True)
    assert final["approved"] is True
    # One file holds both the memory blocks and the checkpoints.
    assert _query(client.database, "SELECT COUNT(*) FROM langgraph_checkpoints")[0][0] > 0
    assert client.get_user("u").get_session("conv").count_memories() == 1


def _two_conversations(client: AgentMemoryClient) -> AgentMemorySaver:
    user = client.create_user("u", "User")
    user.create_session("conv-1").add_memory(facts=["one"], async_processing=False)
    user.create_session("conv-2").add_memory(facts=["two"], async_processing=False)
    saver = AgentMemorySaver(client)
    graph = build_graph(saver)
    for thread_id in ("conv-1", "conv-2", "no-session"):
        drive(graph, thread_id, ["yes"], start=True)
    return saver


def test_delete_thread_and_session(client: AgentMemoryClient) -> None:
    saver = _two_conversations(client)
    delete_thread_and_session(client, "conv-1", "u", saver=saver)
    assert _latest(saver, "conv-1") is None
    with pytest.raises(NotFoundError):
        client.get_user("u").get_session("conv-1")
    assert _latest(saver, "conv-2") is not None
    assert client.get_user("u").get_session("conv-2").count_memories() == 1
    # Missing sessions (and users) are not errors; the default saver is built from the client.
    delete_thread_and_session(client, "conv-1", "u")
    delete_thread_and_session(client, "no-session", "u")
    delete_thread_and_session(client, "conv-2", "nobody")
    assert _latest(saver, "no-session") is None
    assert _latest(saver, "conv-2") is None
    assert client.get_user("u").get_session("conv-2").count_memories() == 1


async def test_adelete_thread_and_session_with_async_client(client: AgentMemoryClient) -> None:
    saver = _two_conversations(client)
    aclient = AsyncAgentMemoryClient.from_client(client)
    await adelete_thread_and_session(aclient, "conv-1", "u")
    await adelete_thread_and_session(aclient, "conv-1", "u")  # already gone: no error
    assert await saver.aget_tuple({"configurable": {"thread_id": "conv-1"}}) is None
    with pytest.raises(NotFoundError):
        client.get_user("u").get_session("conv-1")
    assert _latest(saver, "conv-2") is not None
    client.get_user("u").get_session("conv-2")


# --- schema, packaging --------------------------------------------------------------------


def test_schema_is_migrated_once_and_shared(db: SqlDatabase, storage: str) -> None:
    assert db.dialect == storage  # the fixture follows the root conftest's storage parameter
    one, two = AgentMemorySaver(db), AgentMemorySaver(db)
    assert one.schema_version == two.schema_version == len(MIGRATIONS)
    rows = _query(db, "SELECT version FROM mi_migrations WHERE component = 'langgraph_checkpoints'")
    assert rows == [(len(MIGRATIONS),)]


def test_import_without_langgraph_names_the_extra(tmp_path: Path) -> None:
    src = Path(lg_adapter.__file__).resolve().parents[2]
    code = (
        "import sys\n"
        "sys.modules['langgraph.checkpoint.base'] = None\n"
        "try:\n"
        "    import memory_integrations.langgraph\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert 'pip install "memory-integrations[langgraph]"' in done.stdout


def test_empty_checkpoint_thread_with_uuid_thread_id(saver: AgentMemorySaver) -> None:
    thread = uuid.uuid4()
    checkpoint: Checkpoint = empty_checkpoint()
    saver.put({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}, checkpoint, {}, {})
    tup = saver.get_tuple({"configurable": {"thread_id": str(thread)}})
    assert tup is not None and tup.checkpoint["id"] == checkpoint["id"]
    assert tup.metadata == {}


# --- the restart test's child process -----------------------------------------------------

if __name__ == "__main__":
    _path, _thread, _answers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    _db = open_database(_path)
    _saver = AgentMemorySaver(_db)
    _result = drive(build_graph(_saver), _thread, _answers, start=False)
    _db.close()
    print(json.dumps(_result["messages"]))
