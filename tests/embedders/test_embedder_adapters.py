"""LangChain, LlamaIndex and sentence-transformers adapters, with the real framework fakes."""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from memory_integrations.embedders import (
    Embedder,
    LangChainEmbedder,
    LlamaIndexEmbedder,
    SentenceTransformerEmbedder,
)
from memory_integrations.errors import ConfigurationError, EmbeddingError, ValidationError

TEXTS = ["Trains cross bridges", "Clouds block sunlight", "Rivers carve valleys"]


def _unit_rows(rows: Any) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float64)
    unit: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit


# --- LangChain --------------------------------------------------------------------------


@pytest.fixture
def langchain_fake() -> Any:
    embeddings = pytest.importorskip("langchain_core.embeddings")
    return embeddings.DeterministicFakeEmbedding(size=16)


def test_langchain_protocol_and_name(langchain_fake: Any) -> None:
    embedder = LangChainEmbedder(langchain_fake)
    assert isinstance(embedder, Embedder)
    assert embedder.name == "langchain:DeterministicFakeEmbedding"
    assert embedder.dim == 16  # probed with one query
    assert embedder.wrapped is langchain_fake


def test_langchain_vectors(langchain_fake: Any) -> None:
    embedder = LangChainEmbedder(langchain_fake, name="custom", dim=16)
    assert embedder.name == "custom"
    docs = embedder.embed_documents(TEXTS)
    assert docs.shape == (3, 16)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-6)
    # Same texts, same rows, in input order.
    np.testing.assert_allclose(docs, _unit_rows(langchain_fake.embed_documents(TEXTS)), atol=1e-6)
    query = embedder.embed_query("Sky illumination")
    assert query.shape == (16,)
    np.testing.assert_allclose(
        query, _unit_rows([langchain_fake.embed_query("Sky illumination")])[0], atol=1e-6
    )
    assert embedder.embed_documents([]).shape == (0, 16)


def test_langchain_thread_safe(langchain_fake: Any) -> None:
    embedder = LangChainEmbedder(langchain_fake)
    expected = embedder.embed_documents(TEXTS * 5)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: embedder.embed_documents(TEXTS * 5), range(12)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_langchain_model_name_in_derived_name() -> None:
    class Remote:
        model = "text-embedding-3-small"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0] for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            return [0.0, 1.0]

    assert LangChainEmbedder(Remote()).name == "langchain:Remote:text-embedding-3-small"


def test_langchain_failures_become_embedding_errors() -> None:
    class Broken:
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("quota exhausted")

        def embed_query(self, text: str) -> list[float]:
            return [1.0]

    embedder = LangChainEmbedder(Broken())
    with pytest.raises(EmbeddingError, match="quota exhausted"):
        embedder.embed_documents(["a"])


def test_langchain_wrong_shapes() -> None:
    class Ragged:
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0]]  # one row too few

        def embed_query(self, text: str) -> list[float]:
            return [1.0, 0.0, 0.0]

    embedder = LangChainEmbedder(Ragged())
    with pytest.raises(EmbeddingError, match="shape"):
        embedder.embed_documents(["a", "b"])
    assert embedder.dim == 3
    with pytest.raises(ConfigurationError, match="2-d vectors but 3-d"):
        embedder.embed_documents(["a"])


def test_langchain_rejects_non_embeddings() -> None:
    with pytest.raises(ConfigurationError, match="embed_documents"):
        LangChainEmbedder(object())


def test_input_validation(langchain_fake: Any) -> None:
    embedder = LangChainEmbedder(langchain_fake)
    with pytest.raises(ValidationError):
        embedder.embed_documents("a bare string")
    with pytest.raises(ValidationError):
        embedder.embed_query(42)  # type: ignore[arg-type]


# --- LlamaIndex -------------------------------------------------------------------------


@pytest.fixture
def llama_mock() -> Any:
    embeddings = pytest.importorskip("llama_index.core.embeddings")
    return embeddings.MockEmbedding(embed_dim=12)


def test_llama_index_protocol_and_vectors(llama_mock: Any) -> None:
    embedder = LlamaIndexEmbedder(llama_mock)
    assert isinstance(embedder, Embedder)
    assert embedder.name == "llama-index:MockEmbedding"
    docs = embedder.embed_documents(TEXTS)
    assert docs.shape == (3, 12)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        docs, _unit_rows(llama_mock.get_text_embedding_batch(TEXTS)), atol=1e-6
    )
    query = embedder.embed_query("Sky illumination")
    assert query.shape == (12,)
    assert embedder.dim == 12


def test_llama_index_model_name_in_derived_name(llama_mock: Any) -> None:
    llama_mock.model_name = "bge-small"
    assert LlamaIndexEmbedder(llama_mock).name == "llama-index:MockEmbedding:bge-small"


def test_llama_index_rejects_non_embeddings(langchain_fake: Any) -> None:
    with pytest.raises(ConfigurationError, match="get_text_embedding_batch"):
        LlamaIndexEmbedder(langchain_fake)


# --- sentence-transformers --------------------------------------------------------------


def test_sentence_transformers_missing_names_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("sentence_transformers") is not None:
        monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match="pip install sentence-transformers"):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2")


def test_sentence_transformers_adapter_logic(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in module with sentence-transformers' API; the real package needs PyTorch.
    loads: list[str] = []

    class FakeModel:
        def __init__(self, name: str, device: str | None = None) -> None:
            loads.append(name)

        def get_sentence_embedding_dimension(self) -> int:
            return 4

        def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
            assert kwargs["normalize_embeddings"] is True
            return np.stack([np.full(4, 0.5) * (i + 1) for i in range(len(texts))])

    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)

    embedder = SentenceTransformerEmbedder("my/model")
    assert loads == []  # lazy
    assert isinstance(embedder, Embedder)
    assert embedder.name == "sentence-transformers:my/model"
    barrier = threading.Barrier(4)

    def work(_: int) -> np.ndarray:
        barrier.wait()
        return embedder.embed_documents(["a", "b"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    assert loads == ["my/model"]  # loaded once despite concurrent first calls
    assert results[0].shape == (2, 4)
    np.testing.assert_allclose(np.linalg.norm(results[0], axis=1), 1.0, atol=1e-6)
    assert embedder.dim == 4
    assert embedder.embed_query("q").shape == (4,)
    assert embedder.embed_documents([]).shape == (0, 4)
