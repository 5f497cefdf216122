"""The in-process search index stays within its memory budget, evicting least recent users."""

from __future__ import annotations

from pathlib import Path

from memory_integrations import AgentMemoryClient, Settings
from memory_integrations.bench import bench_index_memory
from memory_integrations.embedders import HashingEmbedder


def test_index_memory_budget_evicts_least_recently_searched_users(tmp_path: Path) -> None:
    # about 1 MiB holds a few hundred short blocks: three users of 200 cannot all stay
    settings = Settings(index_memory_mb=1.0)
    with AgentMemoryClient(
        tmp_path / "m.sqlite3", embedder=HashingEmbedder(), settings=settings
    ) as client:
        sessions = {}
        for name in ("ana", "ben", "cai"):
            session = client.create_user(name, name).create_session("s")
            session.add_memory(
                facts=[f"{name} fact {i} about trip {i % 7}" for i in range(200)],
                async_processing=False,
            )
            sessions[name] = session
        engine = client.backend
        cache = engine._indexes  # type: ignore[attr-defined]
        for name, session in sessions.items():
            hits = session.get_memory(query=f"{name} fact 3", filters={"relevant_k": 3})
            assert hits.memory_blocks[0].fact == f"{name} fact 3 about trip 3"
            assert cache.nbytes <= cache.max_bytes or len(cache._users) == 1
        assert cache.get("cai") is not None  # the most recent stays
        assert cache.get("ana") is None  # the least recent went first
        # an evicted user's next search loads the index again and is right
        hits = sessions["ana"].get_memory(query="ana fact 150", filters={"relevant_k": 1})
        assert hits.memory_blocks[0].fact == "ana fact 150 about trip 3"


def test_bench_reports_index_memory_per_block() -> None:
    figures = bench_index_memory(2_000)
    assert figures["vector_bytes_per_block"] == 4 * 384
    # the vector dominates; postings, ids and slack stay under half of it again
    assert 1536 < figures["counted_bytes_per_block"] < 1536 * 1.9
    assert abs(figures["traced_bytes_per_block"] - figures["counted_bytes_per_block"]) < 400
    assert figures["blocks_within_budget"] > 300_000
