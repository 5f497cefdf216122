"""Throughput and cold-start measurement of an embedder (used by ``memory-integrations bench``)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import TypedDict

from ..embedders import Embedder

_TEXT = (
    "the user prefers green tea in the morning and coffee after lunch while working on the "
    "quarterly report about river logistics wolves trains bridges clouds engines ships memory "
    "agent remembers birthday meeting travel plans to Lisbon next spring with two colleagues "
    "from the data team who asked about the budget deadline project status and vacation"
)
_WORDS = _TEXT.split(" ")


class EmbedderBenchmark(TypedDict):
    """What :func:`measure_embedder` returns."""

    embedder: str
    dim: int
    n: int
    cold_start_s: float
    """Seconds for the first call (model load included unless it was already loaded)."""
    sentences_per_s: dict[int, float]
    """Throughput per batch size."""


def sample_sentences(n: int, *, seed: int = 0) -> list[str]:
    """``n`` deterministic English-like sentences of 6 to 24 words."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 24))).capitalize() + "."
        for _ in range(n)
    ]


def measure_embedder(
    embedder: Embedder,
    n: int = 256,
    batch_sizes: Sequence[int] = (1, 32),
    *,
    texts: Sequence[str] | None = None,
) -> EmbedderBenchmark:
    """Measure cold start and sentences per second of ``embedder`` at each batch size.

    The cold start is the wall time of the very first embedding call, so it includes
    loading the model when this process has not loaded it yet. Each batch size then embeds
    the same ``n`` sentences (``texts`` or generated ones) in calls of that many texts,
    after one warm-up call. Prints nothing; returns the numbers.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if any(size < 1 for size in batch_sizes):
        raise ValueError(f"batch sizes must be at least 1, got {tuple(batch_sizes)}")
    sentences = list(texts) if texts is not None else sample_sentences(n)
    if not sentences:
        raise ValueError("texts must not be empty")

    started = time.perf_counter()
    embedder.embed_query(sentences[0])
    cold = time.perf_counter() - started

    throughput: dict[int, float] = {}
    for size in batch_sizes:
        embedder.embed_documents(sentences[:size])
        started = time.perf_counter()
        for start in range(0, len(sentences), size):
            embedder.embed_documents(sentences[start : start + size])
        elapsed = time.perf_counter() - started
        throughput[size] = len(sentences) / elapsed if elapsed > 0 else float("inf")

    return EmbedderBenchmark(
        embedder=embedder.name,
        dim=embedder.dim,
        n=len(sentences),
        cold_start_s=cold,
        sentences_per_s=throughput,
    )
