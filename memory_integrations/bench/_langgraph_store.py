"""Benchmark: AgentMemoryStore (persistent, SQLite) against LangGraph's ``InMemoryStore``.

Both stores get the same items and the same embedding function, so the difference is the
store: put cost per item (ours writes a SQLite transaction per put) and semantic search
latency at ``items`` items. Run it with::

    python -c "from memory_integrations.bench import bench_store; \\
               print(bench_store())"
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.memory import InMemoryStore

from ..embedders import Embedder, resolve_embedder
from ..langgraph import AgentMemoryStore
from ._stats import percentile

__all__ = ["bench_store", "bench_store_postgres", "synthetic_memories"]

_SUBJECTS = ["the user", "my sister", "our manager", "the customer", "a neighbour", "the team"]
_VERBS = ["likes", "avoids", "bought", "visited", "recommended", "cooked", "booked", "lost"]
_OBJECTS = [
    "spicy ramen",
    "a red bicycle",
    "jazz records",
    "the Lisbon office",
    "green tea",
    "a mountain cabin",
    "vintage cameras",
    "the quarterly report",
    "sourdough bread",
    "an electric car",
    "board games",
    "the dentist appointment",
]
_WHEN = ["last week", "every Monday", "in 2019", "yesterday", "before the trip", "on weekends"]


def synthetic_memories(count: int, seed: int = 7) -> list[str]:
    """``count`` short, varied memory sentences (deterministic for a seed)."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
        f"{rng.choice(_WHEN)} (note {i})"
        for i in range(count)
    ]


def _queries(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [
        f"what did {rng.choice(_SUBJECTS)} say about {rng.choice(_OBJECTS)}" for _ in range(count)
    ]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _measure(
    store: BaseStore, texts: Sequence[str], asked: Sequence[str]
) -> tuple[list[float], list[float]]:
    """Put every text (one put each), then search: put times and search times (ms)."""
    puts = []
    for i, text in enumerate(texts):
        start = time.perf_counter()
        store.put(("memories", f"u{i % 50}"), f"m{i}", {"text": text})
        puts.append(_ms(start))
    store.search(("memories",), query="warm up", limit=10)
    searches = []
    for query in asked:
        start = time.perf_counter()
        store.search(("memories",), query=query, limit=10)
        searches.append(_ms(start))
    return puts, searches


def bench_store(
    items: int = 10_000,
    queries: int = 100,
    *,
    embedder: str | Embedder = "hashing",
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Put ``items`` memories into both stores, then time ``queries`` semantic searches.

    ``embedder`` defaults to the deterministic hashing embedder (384-d, microseconds per
    text) so the store is what is measured; pass ``"minilm"`` for the local default model
    (then embedding dominates both sides). ``path`` is the SQLite file (a temporary one by
    default). Returns milliseconds: put per item (mean), search p50 / p95, the first search
    of a freshly opened store (index load), and ``search_ratio`` = ours / InMemoryStore.
    """
    model = resolve_embedder(embedder)
    texts = synthetic_memories(items)
    asked = _queries(queries)

    def embed(batch: Sequence[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in model.embed_documents(list(batch))]

    # The very same function embeds for both stores.
    index: IndexConfig = {"dims": model.dim, "embed": embed, "fields": ["text"]}
    with tempfile.TemporaryDirectory() as tmp:
        location = str(path or Path(tmp) / "bench-store.sqlite3")
        with AgentMemoryStore(location, index=index) as ours:
            ours_put, ours_search = _measure(ours, texts, asked)
        with AgentMemoryStore(location, index=index) as reopened:
            start = time.perf_counter()
            reopened.search(("memories",), query=asked[0], limit=10)
            cold = _ms(start)
            one_namespace = []
            for query in asked:
                start = time.perf_counter()
                reopened.search(("memories", "u7"), query=query, limit=10)
                one_namespace.append(_ms(start))
    their_put, their_search = _measure(InMemoryStore(index=index), texts, asked)
    ours_p50 = statistics.median(ours_search)
    their_p50 = statistics.median(their_search)
    return {
        "items": items,
        "queries": queries,
        "embedder": model.name,
        "dims": model.dim,
        "storage": "sqlite (file, WAL)",
        "ours_put_ms_per_item": round(statistics.fmean(ours_put), 4),
        "inmemory_put_ms_per_item": round(statistics.fmean(their_put), 4),
        "ours_search_p50_ms": round(ours_p50, 3),
        "ours_search_p95_ms": round(percentile(ours_search, 95), 3),
        "inmemory_search_p50_ms": round(their_p50, 3),
        "inmemory_search_p95_ms": round(percentile(their_search, 95), 3),
        "ours_cold_first_search_ms": round(cold, 3),
        "ours_search_one_namespace_p50_ms": round(statistics.median(one_namespace), 3),
        "search_ratio": round(ours_p50 / their_p50, 4),
    }


def bench_store_postgres(
    url: str, items: int = 10_000, queries: int = 100, *, embedder: str | Embedder = "hashing"
) -> dict[str, Any]:
    """``AgentMemoryStore`` on PostgreSQL vs langgraph's ``PostgresStore`` (HNSW) there.

    Both get the same items and embedding function, in their own tables of the same server.
    Needs ``pip install langgraph-checkpoint-postgres``. Ratios are ours / PostgresStore.
    """
    try:
        from langgraph.store.postgres import PostgresStore
    except ImportError as exc:  # pragma: no cover - optional comparison dependency
        raise ImportError(
            "the PostgreSQL comparison needs: pip install langgraph-checkpoint-postgres"
        ) from exc
    model = resolve_embedder(embedder)
    texts = synthetic_memories(items)
    asked = _queries(queries)

    def embed(batch: Sequence[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in model.embed_documents(list(batch))]

    index: IndexConfig = {"dims": model.dim, "embed": embed, "fields": ["text"]}
    with AgentMemoryStore(url, index=index) as ours:
        for namespace in ours.list_namespaces(prefix=("memories",), limit=10_000):
            for item in ours.search(namespace, limit=100_000):
                ours.delete(item.namespace, item.key)
        ours_put, ours_search = _measure(ours, texts, asked)
    with PostgresStore.from_conn_string(url, index=index) as theirs:  # type: ignore[arg-type]
        theirs.setup()
        for namespace in theirs.list_namespaces(prefix=("memories",), limit=10_000):
            for item in theirs.search(namespace, limit=100_000):
                theirs.delete(item.namespace, item.key)
        their_put, their_search = _measure(theirs, texts, asked)
    ours_p50 = statistics.median(ours_search)
    their_p50 = statistics.median(their_search)
    return {
        "items": items,
        "queries": queries,
        "embedder": model.name,
        "ours_put_ms_per_item": round(statistics.fmean(ours_put), 4),
        "postgres_store_put_ms_per_item": round(statistics.fmean(their_put), 4),
        "ours_search_p50_ms": round(ours_p50, 3),
        "postgres_store_search_p50_ms": round(their_p50, 3),
        "search_ratio": round(ours_p50 / their_p50, 4),
        "put_ratio": round(statistics.fmean(ours_put) / statistics.fmean(their_put), 4),
    }
