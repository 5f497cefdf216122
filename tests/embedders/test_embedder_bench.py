"""measure_embedder returns numbers (no timing assertions: machines differ)."""

from __future__ import annotations

import pytest

from memory_integrations.bench import measure_embedder, sample_sentences
from memory_integrations.embedders import HashingEmbedder


def test_measure_embedder_shape_of_result() -> None:
    result = measure_embedder(HashingEmbedder(64), n=40, batch_sizes=(1, 8, 32))
    assert result["embedder"] == "hashing-v1-64"
    assert result["dim"] == 64
    assert result["n"] == 40
    assert result["cold_start_s"] >= 0
    assert set(result["sentences_per_s"]) == {1, 8, 32}
    assert all(rate > 0 for rate in result["sentences_per_s"].values())


def test_measure_embedder_with_own_texts() -> None:
    result = measure_embedder(HashingEmbedder(), texts=["a b", "c d", "e f"], batch_sizes=(2,))
    assert result["n"] == 3
    assert set(result["sentences_per_s"]) == {2}


def test_sample_sentences_are_deterministic() -> None:
    assert sample_sentences(5) == sample_sentences(5)
    assert len(set(sample_sentences(50))) == 50


@pytest.mark.parametrize(("n", "sizes"), [(0, (1,)), (10, (0,))])
def test_measure_embedder_rejects_bad_arguments(n: int, sizes: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        measure_embedder(HashingEmbedder(), n=n, batch_sizes=sizes)
