"""``bench engine``: the engine's core operations at 10k blocks in one session."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .._models import ChatMessage
from ..client import AgentMemoryClient
from ..embedders import HashingEmbedder
from ._stats import summary, timed

TARGETS = {"add_async_p50_ms": 2.0, "list_200_p50_ms": 10.0}


def bench_index_memory(blocks: int = 10_000, dim: int = 384) -> dict[str, Any]:
    """Memory of one user's in-process search index per short block: as the index counts
    it (what the ``index_memory_mb`` budget is checked against) and as Python's allocator
    saw it (tracemalloc), beside the default budget."""
    import tracemalloc

    import numpy as np

    from .._settings import Settings
    from ..retrieval import IndexEntry, SearchIndex

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((blocks, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [
        IndexEntry(
            seq=i,
            session_id=f"s{i % 20}",
            expires_at=None,
            is_message=True,
            text=f"question {i} about topic {i % 97}\nanswer {i} with detail {i % 13}",
            embedding=vectors[i].tobytes(),
        )
        for i in range(blocks)
    ]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = SearchIndex(dim)
    loaded = blocks - blocks // 100
    index.append(rows[:loaded])  # the first search loads the user's blocks at once
    for start in range(loaded, blocks, 10):  # then searches catch up with new blocks
        index.append(rows[start : start + 10])
    index.neighbours()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    budget_mb = Settings().index_memory_mb
    per_block = index.nbytes / blocks
    return {
        "blocks": blocks,
        "dim": dim,
        "counted_bytes_per_block": round(per_block),
        "traced_bytes_per_block": round(traced / blocks),
        "vector_bytes_per_block": 4 * dim,
        "budget_mb": budget_mb,
        "blocks_within_budget": int(budget_mb * 2**20 / per_block),
    }


def bench_engine(blocks: int = 10_000, location: str | Path | None = None) -> dict[str, Any]:
    """Add ``blocks`` blocks (half async, half sync) to one session and time the calls."""
    with tempfile.TemporaryDirectory() as tmp:
        db = location or Path(tmp) / "bench.sqlite3"
        with AgentMemoryClient(db, embedder=HashingEmbedder()) as client:
            user_id = f"bench-{uuid.uuid4().hex[:8]}"
            session = client.create_user(user_id, "Bench").create_session("s")
            counter = itertools.count()

            def add(async_processing: bool) -> None:
                i = next(counter)
                session.add_memory(
                    messages=[
                        ChatMessage(
                            user_content=f"question {i} about topic {i % 97}",
                            assistant_content=f"answer {i} with detail {i % 13}",
                        )
                    ],
                    annotations={"topic": f"t{i % 97}"},
                    async_processing=async_processing,
                )

            add_async = timed(lambda: add(True), blocks // 2)
            add_sync = timed(lambda: add(False), blocks - blocks // 2)
            client.wait_until_processed(600)
            offsets = itertools.cycle(range(0, blocks - 200, 997))
            list_200 = timed(lambda: session.list_memories(limit=200, offset=next(offsets)), 200)
            filter_only = timed(
                lambda: session.search_memory(filters={"annotations": {"topic": "t5"}}), 100
            )
            query = timed(lambda: session.search_memory(query="question about topic 42"), 100)
            client.delete_user(user_id)
        figures: dict[str, Any] = {
            "blocks": blocks,
            "add_async": summary(add_async),
            "add_sync": summary(add_sync),
            "list_200": summary(list_200),
            "filter_only_search": summary(filter_only),
            "query_search": summary(query),
            "embedder": "hashing-v1-384",
            "storage": client.database.dialect,
        }
        figures["targets"] = {
            "add_async_p50_ms": {
                "target": TARGETS["add_async_p50_ms"],
                "measured": figures["add_async"]["p50_ms"],
            },
            "list_200_p50_ms": {
                "target": TARGETS["list_200_p50_ms"],
                "measured": figures["list_200"]["p50_ms"],
            },
        }
        return figures
