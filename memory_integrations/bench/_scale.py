"""``bench engine --real``: ingest overhead over the raw embedder, and search at scale.

Search is measured on stores of 10k / 100k / 1M blocks of one user. Their vectors are mixes
of real MiniLM embeddings of generated sentences (embedding a million texts would take half
an hour here); texts are the sentences mixed. Query embedding is excluded from the vector
and hybrid timings (queries are embedded once, up front) and reported separately.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..client import AgentMemoryClient
from ..embedders import Embedder, Vectors, resolve_embedder
from ..retrieval import DenseScorer
from ..storage import BlockQuery
from ._stats import summary

NAMES = "Ana Ben Chen Dara Eli Fatima Gus Hana Ivan Jade Kofi Lena Milo Nora Omar Pia".split()
VERBS = (
    "visited booked cooked painted repaired adopted bought sold planned cancelled learned "
    "recommended borrowed photographed described forgot remembered celebrated"
).split()
OBJECTS = (
    "a bicycle|a vegetarian lasagna|the garden shed|a rescue puppy|concert tickets|a mountain "
    "cabin|a guitar|the old piano|a sourdough starter|a wedding cake|running shoes|a chess set|"
    "an electric car|a watercolour landscape|the family album|a birthday party"
).split("|")
PLACES = (
    "Lisbon|the library|Kyoto|grandma's house|the farmers market|Berlin|the beach|the office|"
    "Nairobi|the campsite|Toronto|the museum|a pottery class|the harbour"
).split("|")
TIMES = "last week|on Sunday|in May|yesterday|over the holidays|this morning|in 2022".split("|")


def sentences(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(NAMES)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} in "
        f"{rng.choice(PLACES)} {rng.choice(TIMES)}."
        for _ in range(count)
    ]


class PreEmbeddedQueries:
    """Wraps an embedder so queries embedded up front cost nothing at search time."""

    def __init__(self, inner: Embedder, queries: Sequence[str]) -> None:
        self.inner = inner
        self.cache = dict(zip(queries, inner.embed_documents(list(queries)), strict=True))

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        cached = self.cache.get(text)
        return cached if cached is not None else self.inner.embed_query(text)


def bench_ingest(embedder: Embedder, count: int = 1000) -> dict[str, Any]:
    """Blocks/s through ``add_memory`` (async) until searchable, vs the raw embedder."""
    texts = sentences(count, seed=11)
    embedder.embed_documents(texts[:32])  # warm up
    start = time.perf_counter()
    for i in range(0, count, 32):
        embedder.embed_documents(texts[i : i + 32])
    raw = count / (time.perf_counter() - start)
    with (
        tempfile.TemporaryDirectory() as tmp,
        AgentMemoryClient(Path(tmp) / "ingest.sqlite3", embedder=embedder) as client,
    ):
        session = client.create_user("u", "U").create_session("s")
        start = time.perf_counter()
        for text in texts:
            session.add_memory(facts=[text])
        client.wait_until_processed(None)
        engine = count / (time.perf_counter() - start)
    return {
        "blocks": count,
        "raw_embedder_per_s": round(raw, 1),
        "engine_ingest_per_s": round(engine, 1),
        "engine_overhead_pct": round((raw / engine - 1) * 100, 1),
        "target_overhead_pct": 10.0,
    }


def _mixed_vectors(
    base: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, base.shape[0], count)
    b = rng.integers(0, base.shape[0], count)
    mixed = 0.75 * base[a] + 0.25 * base[b]
    mixed += rng.normal(0, 0.02, mixed.shape).astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return mixed.astype(np.float32), a


def _insert_user_blocks(
    engine: Any, user_id: str, texts: list[str], vectors: np.ndarray
) -> list[int]:
    """Write ready blocks with precomputed vectors straight to storage; returns their seqs."""
    now = int(time.time() * 1_000_000)
    store, database = engine._store, engine.database
    seqs: list[int] = []
    for first in range(0, len(texts), 20_000):
        end = min(len(texts), first + 20_000)
        with database.transaction() as cur:
            version = store.bump_index_version(cur, user_id, reset=False)
            seqs += store.insert_blocks(
                cur,
                [
                    {
                        "block_id": str(uuid.uuid4()),
                        "user_id": user_id,
                        "session_id": "s",
                        "kind": "fact",
                        "fact": texts[i],
                        "user_content": None,
                        "assistant_content": None,
                        "role": None,
                        "content": None,
                        "name": None,
                        "text": texts[i],
                        "annotations": "{}",
                        "metadata": None,
                        "agent_id": None,
                        "created_at": None,
                        "ingested_at": now + i,
                        "updated_at": now + i,
                        "last_queued_at": None,
                        "expires_at": None,
                        "status": "ready",
                        "fail_count": 0,
                        "embedding": vectors[i].tobytes(),
                        "index_version": version,
                    }
                    for i in range(first, end)
                ],
            )
    return seqs


class _VectorTop10:
    """The dense stage alone: seqs of one user's 10 nearest blocks to a query vector."""

    def __init__(self, engine: Any, user_id: str) -> None:
        self.engine = engine
        self.search = engine._database_search
        self.scope = BlockQuery(user_id, now=2**62, statuses=["ready"])
        if self.search is None:
            self.index = engine._indexes.get(user_id)
            self.visible = np.arange(self.index.size)
            exact = self.index.size <= DenseScorer.EXACT_LIMIT
            self.mode = "in-memory exact" if exact else "in-memory sign-bit prefilter + rescoring"
        else:
            self.mode = "pgvector HNSW" if self.search.uses_index else "pgvector exact"

    def __call__(self, query: np.ndarray) -> np.ndarray:
        if self.search is None:
            return np.asarray(self.index.seqs[self.index.dense(query, self.visible).top(10)])
        with self.engine.database.transaction() as cur:
            return np.asarray(self.search.nearest(cur, self.scope, query, 10))


def bench_search_scale(
    embedder: Embedder,
    sizes: Sequence[int] = (10_000, 100_000, 1_000_000),
    queries: int = 100,
    location: str | None = None,
) -> dict[str, Any]:
    """Vector top-10 (latency, recall against exact search) and hybrid search per size.

    ``location``: a PostgreSQL URL to measure the database-side search (HNSW + full text);
    by default a temporary SQLite file and the in-memory index.
    """
    base_texts = sentences(2_000, seed=3)
    base = embedder.embed_documents(base_texts)
    query_texts = [f"Who {v} {o}?" for v, o in zip(VERBS, OBJECTS * 2, strict=False)]
    query_texts = (query_texts * (queries // len(query_texts) + 1))[:queries]
    wrapped = PreEmbeddedQueries(embedder, query_texts)
    query_vectors = np.stack([wrapped.embed_query(q) for q in query_texts])
    rng = np.random.default_rng(5)
    results: dict[str, Any] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = location or str(Path(tmp) / "scale.sqlite3")
            with AgentMemoryClient(db, embedder=wrapped) as client:
                user_id = f"big-{uuid.uuid4().hex[:8]}"
                client.create_user(user_id, "Big").create_session("s")
                engine: Any = client.backend
                vectors, picks = _mixed_vectors(base, size, rng)
                texts = [base_texts[int(i)] for i in picks]
                load_start = time.perf_counter()
                seqs = np.array(_insert_user_blocks(engine, user_id, texts, vectors), np.int64)
                insert_seconds = time.perf_counter() - load_start
                if engine.database.dialect == "postgres":
                    # what autovacuum does after a bulk load: planner statistics and the
                    # visibility map (index-only counts)
                    with engine.database.read() as cur:
                        cur.execute("VACUUM ANALYZE mi_blocks")
                user = client.get_user(user_id)
                load_start = time.perf_counter()
                user.search_memory(query_texts[0])  # in memory: loads the index
                load_seconds = time.perf_counter() - load_start
                top10 = _VectorTop10(engine, user_id)
                exact = vectors @ query_vectors.T  # (size, queries)
                recall_hits = 0
                dense_times = []
                for qi, query in enumerate(query_vectors):
                    start = time.perf_counter()
                    top = top10(query)
                    dense_times.append((time.perf_counter() - start) * 1000)
                    truth = set(seqs[np.argpartition(-exact[:, qi], 9)[:10]].tolist())
                    recall_hits += len(truth & set(top.tolist()))
                hybrid = []
                for text in query_texts:
                    start = time.perf_counter()
                    user.search_memory(text)
                    hybrid.append((time.perf_counter() - start) * 1000)
                client.delete_user(user_id)
                results[f"{size:,}"] = {
                    "insert_s": round(insert_seconds, 1),
                    "first_search_s": round(load_seconds, 2),
                    "vector_top10": summary(dense_times),
                    "vector_recall_at_10": round(recall_hits / (10 * queries), 3),
                    "hybrid_search": summary(hybrid),
                    "mode": top10.mode,
                }
    start = time.perf_counter()
    for text in query_texts[:50]:
        embedder.embed_query(text + " ")
    results["query_embedding_ms"] = round((time.perf_counter() - start) * 1000 / 50, 2)
    results["storage"] = "postgres" if location else "sqlite"
    return results


def bench_real(sizes: Sequence[int], location: str | None = None) -> dict[str, Any]:
    embedder = resolve_embedder(None)
    return {
        "embedder": embedder.name,
        "ingest": bench_ingest(embedder),
        "search": bench_search_scale(embedder, sizes, location=location),
        "targets": {
            "vector_p50_ms_at_100k": 5.0,
            "vector_p50_ms_at_1M": 30.0,
            "recall_at_10_at_1M": 0.95,
            "hybrid_p50_ms_at_100k": 15.0,
        },
    }
