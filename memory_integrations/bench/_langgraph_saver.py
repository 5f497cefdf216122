"""Benchmark ``AgentMemorySaver`` against langgraph's ``SqliteSaver`` and ``InMemorySaver``.

``bench_saver(path_dir)`` runs two workloads for each saver on the same disk and returns the
figures plus ratios to ``SqliteSaver``:

* ``step``: a thread of ``steps`` checkpoints shaped like an agent's: a message list that
  grows by one message per step, a large context channel written once, a step counter and a
  trigger channel. Each step is ``put`` (with only the changed channels in ``new_versions``)
  then ``get_tuple`` of the latest checkpoint.
* ``graph``: one ``invoke`` of a compiled ``StateGraph`` that loops ``steps`` times over one
  node, so LangGraph itself drives ``put`` / ``put_writes``.

``SqliteSaver`` is measured as users create it (``sqlite3.connect(path)``, synchronous=FULL)
and also with ``PRAGMA synchronous=NORMAL``, the setting our SQLite database uses, so the
comparison can be read both ways.
"""

from __future__ import annotations

import operator
import sqlite3
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver

from ..langgraph import AgentMemorySaver
from ..storage import SQLiteDatabase, open_database

__all__ = ["bench_saver"]

_CONTEXT_DOCS = 40  # ~40 x 1 KB of retrieved context, written once per thread
_MESSAGE = "The quick brown fox jumps over the lazy dog while the agent thinks. " * 2


def _context() -> dict[str, Any]:
    return {
        "docs": [
            {"id": i, "text": f"document {i} " + "lorem ipsum " * 80} for i in range(_CONTEXT_DOCS)
        ]
    }


@contextmanager
def _savers(root: Path) -> Iterator[tuple[dict[str, BaseCheckpointSaver[Any]], dict[str, Path]]]:
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver
    except ImportError as exc:  # pragma: no cover - optional comparison dependency
        raise ImportError(
            "the LangGraph benchmark compares with SqliteSaver: "
            "pip install langgraph-checkpoint-sqlite"
        ) from exc
    root.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    files = {
        "agent_memory_saver": root / f"bench-agentmemory-{tag}.db",
        "sqlite_saver": root / f"bench-sqlitesaver-{tag}.db",
        "sqlite_saver_sync_normal": root / f"bench-sqlitesaver-normal-{tag}.db",
    }
    db = SQLiteDatabase(files["agent_memory_saver"])
    full = sqlite3.connect(str(files["sqlite_saver"]), check_same_thread=False)
    normal = sqlite3.connect(str(files["sqlite_saver_sync_normal"]), check_same_thread=False)
    ours = AgentMemorySaver(db)
    sqlite_normal = SqliteSaver(normal)
    sqlite_normal.setup()
    normal.execute("PRAGMA synchronous=NORMAL")
    savers: dict[str, BaseCheckpointSaver[Any]] = {
        "agent_memory_saver": ours,
        "sqlite_saver": SqliteSaver(full),
        "sqlite_saver_sync_normal": sqlite_normal,
        "in_memory_saver": InMemorySaver(),
    }
    try:
        yield savers, files
    finally:
        ours.close()
        db.close()
        full.close()
        normal.close()


def _step_workload(saver: BaseCheckpointSaver[Any], steps: int) -> float:
    """Seconds for ``steps`` x (put + get_tuple latest) on one fresh thread."""
    thread_id = f"bench-{uuid.uuid4().hex}"
    versions: dict[str, Any] = {}

    def bump(channel: str) -> Any:
        versions[channel] = saver.get_next_version(versions.get(channel), None)
        return versions[channel]

    messages: list[dict[str, str]] = []
    context = _context()
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    start = time.perf_counter()
    for step in range(steps):
        new_versions = {
            "messages": bump("messages"),
            "step": bump("step"),
            "branch:to:agent": bump("branch:to:agent"),
        }
        if step == 0:
            new_versions["context"] = bump("context")
        messages = [
            *messages,
            {"role": "ai" if step % 2 else "human", "content": f"{step} {_MESSAGE}"},
        ]
        checkpoint = Checkpoint(
            v=4,
            id=str(uuid6(clock_seq=step)),
            ts=datetime.now(UTC).isoformat(),
            channel_values={
                "messages": messages,
                "context": context,
                "step": step,
                "branch:to:agent": None,
            },
            channel_versions=dict(versions),
            versions_seen={"agent": {"branch:to:agent": versions["branch:to:agent"]}},
            updated_channels=list(new_versions),
        )
        config = saver.put(
            config, checkpoint, {"source": "loop", "step": step, "parents": {}}, new_versions
        )
        latest = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        if latest is None or len(latest.checkpoint["channel_values"]["messages"]) != step + 1:
            raise RuntimeError(f"{type(saver).__name__} lost a checkpoint during the benchmark")
    return time.perf_counter() - start


class _LoopState(TypedDict):
    messages: Annotated[list[dict[str, str]], operator.add]
    context: dict[str, Any]
    count: int


def _graph_workload(saver: BaseCheckpointSaver[Any], steps: int) -> float:
    """Seconds for one ``invoke`` of a graph that loops ``steps`` supersteps."""
    from langgraph.graph import END, START, StateGraph

    def agent(state: _LoopState) -> dict[str, Any]:
        return {
            "messages": [{"role": "ai", "content": f"{state['count']} {_MESSAGE}"}],
            "count": state["count"] + 1,
        }

    def route(state: _LoopState) -> str:
        return "agent" if state["count"] < steps else END

    builder = StateGraph(_LoopState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    graph = builder.compile(checkpointer=saver)
    config: Any = {
        "configurable": {"thread_id": f"bench-{uuid.uuid4().hex}"},
        "recursion_limit": steps + 10,
    }
    start = time.perf_counter()
    result = graph.invoke({"messages": [], "context": _context(), "count": 0}, config)
    elapsed = time.perf_counter() - start
    if result["count"] != steps:
        raise RuntimeError(f"the benchmark graph stopped at {result['count']} of {steps} steps")
    return elapsed


def _run_workloads(
    savers: dict[str, BaseCheckpointSaver[Any]], steps: int, repeat: int
) -> dict[str, Any]:
    """Median per-step figures of both workloads for each saver (interleaved runs)."""
    result: dict[str, Any] = {}
    for name, workload in (("step", _step_workload), ("graph", _graph_workload)):
        runs: dict[str, list[float]] = {saver_name: [] for saver_name in savers}
        for saver in savers.values():
            workload(saver, min(20, steps))  # warm imports and statement caches
        for _ in range(repeat):
            for saver_name, saver in savers.items():
                runs[saver_name].append(workload(saver, steps))
        result[name] = {
            saver_name: {
                "total_s": round(statistics.median(times), 4),
                "per_step_ms": round(statistics.median(times) / steps * 1000, 4),
            }
            for saver_name, times in runs.items()
        }
    return result


def bench_saver_postgres(url: str, steps: int = 500, *, repeat: int = 3) -> dict[str, Any]:
    """``AgentMemorySaver`` on PostgreSQL vs langgraph's ``PostgresSaver`` on the same server.

    Needs ``pip install langgraph-checkpoint-postgres``. Ratios are ours / PostgresSaver.
    """
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:  # pragma: no cover - optional comparison dependency
        raise ImportError(
            "the PostgreSQL comparison needs: pip install langgraph-checkpoint-postgres"
        ) from exc
    import psycopg
    from psycopg.rows import dict_row

    database = open_database(url)
    ours = AgentMemorySaver(database)
    with psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        theirs = PostgresSaver(conn)
        theirs.setup()
        try:
            result: dict[str, Any] = {"steps": steps, "repeat": repeat}
            result.update(
                _run_workloads(
                    {"agent_memory_saver": ours, "postgres_saver": theirs}, steps, repeat
                )
            )
        finally:
            ours.close()
            database.close()
    result["ratios"] = {
        f"{name}:agent_memory_saver/postgres_saver": round(
            result[name]["agent_memory_saver"]["per_step_ms"]
            / result[name]["postgres_saver"]["per_step_ms"],
            3,
        )
        for name in ("step", "graph")
    }
    result["target"] = "saver <= 1.0x PostgresSaver per step"
    return result


def bench_saver(path_dir: str | Path, steps: int = 500, *, repeat: int = 3) -> dict[str, Any]:
    """Time per step of each saver on the disk under ``path_dir``; ratios are vs SqliteSaver.

    Each workload runs ``repeat`` times per saver (interleaved, after a short warm-up) on
    fresh threads; the median is reported. Returns ``{"steps", "repeat", "step": {saver:
    {"total_s", "per_step_ms"}}, "graph": {...}, "db_bytes": {saver: size}, "ratios": {...}}``;
    ``db_bytes`` is each file after both workloads (warm-ups included).
    """
    if steps < 1 or repeat < 1:
        raise ValueError("steps and repeat must be at least 1")
    root = Path(path_dir)
    result: dict[str, Any] = {
        "steps": steps,
        "repeat": repeat,
        "sqlite_version": sqlite3.sqlite_version,
    }
    with _savers(root) as (savers, files):
        result.update(_run_workloads(savers, steps, repeat))
    # Closed connections have folded their WAL into the main file.
    result["db_bytes"] = {name: path.stat().st_size for name, path in files.items()}
    ratios: dict[str, float] = {}
    for name in ("step", "graph"):
        base = result[name]["sqlite_saver"]["per_step_ms"]
        for saver_name, figures in result[name].items():
            if saver_name != "sqlite_saver":
                ratios[f"{name}:{saver_name}/sqlite_saver"] = round(
                    figures["per_step_ms"] / base, 3
                )
    sizes = result["db_bytes"]
    ratios["db_bytes:agent_memory_saver/sqlite_saver"] = round(
        sizes["agent_memory_saver"] / sizes["sqlite_saver"], 3
    )
    result["ratios"] = ratios
    return result
