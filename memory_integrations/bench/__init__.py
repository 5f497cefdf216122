"""Benchmarks behind ``memory-integrations bench``: functions that return figures.

Benchmarks live here only; nothing in the library imports them. The framework ones
(LangGraph saver and store, the HTTP server) import their framework when called.
"""

from __future__ import annotations

from typing import Any

from ._embedders import EmbedderBenchmark, measure_embedder, sample_sentences
from ._engine import bench_engine, bench_index_memory
from ._stats import percentile, summary, timed

_LAZY = {
    "bench_real": "._scale",
    "bench_search_scale": "._scale",
    "bench_locomo": "._locomo",
    "run_load": "._load",
    "bench_saver": "._langgraph_saver",
    "bench_saver_postgres": "._langgraph_saver",
    "bench_store": "._langgraph_store",
    "bench_store_postgres": "._langgraph_store",
    "bench_server": "._server",
}


def __getattr__(name: str) -> Any:
    # Benchmarks that need an optional framework are imported on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "EmbedderBenchmark",
    "bench_engine",
    "bench_index_memory",
    "bench_locomo",
    "bench_real",
    "bench_saver",
    "bench_saver_postgres",
    "bench_search_scale",
    "bench_server",
    "bench_store",
    "bench_store_postgres",
    "measure_embedder",
    "percentile",
    "run_load",
    "sample_sentences",
    "summary",
    "timed",
]
