"""The search-at-scale benchmark runs on both storages and reports sane figures."""

from __future__ import annotations

from typing import Any

from memory_integrations.bench import bench_search_scale
from memory_integrations.embedders import HashingEmbedder


def test_search_scale_bench_reports_recall_and_mode(db_path: Any, storage: str) -> None:
    location = str(db_path) if storage == "postgres" else None
    figures = bench_search_scale(HashingEmbedder(), sizes=[600], queries=8, location=location)
    row = figures["600"]
    assert figures["storage"] == storage
    assert row["mode"] == ("pgvector HNSW" if storage == "postgres" else "in-memory exact")
    # exact in memory; HNSW over 600 vectors with ef_search=100 finds (nearly) all of them
    assert row["vector_recall_at_10"] >= (1.0 if storage == "sqlite" else 0.9)
    assert row["hybrid_search"]["p50_ms"] > 0
