"""Every local embedder honours the same Embedder contract."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from memory_integrations.embedders import (
    Embedder,
    HashingEmbedder,
    LangChainEmbedder,
    LlamaIndexEmbedder,
    default_embedder,
)

TEXTS = ["Wolves hunt deer", "", "Engines power ships", "Wolves hunt deer"]


def _langchain() -> Embedder:
    module = pytest.importorskip("langchain_core.embeddings")
    return LangChainEmbedder(module.DeterministicFakeEmbedding(size=32))


def _llama_index() -> Embedder:
    module = pytest.importorskip("llama_index.core.embeddings")
    return LlamaIndexEmbedder(module.MockEmbedding(embed_dim=32))


FACTORIES: dict[str, Callable[[], Embedder]] = {
    "minilm": default_embedder,
    "hashing": lambda: HashingEmbedder(128),
    "langchain": _langchain,
    "llama-index": _llama_index,
}


@pytest.fixture(params=sorted(FACTORIES))
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return FACTORIES[request.param]()


def test_contract(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert isinstance(embedder.name, str)
    assert embedder.name
    assert isinstance(embedder.dim, int)
    assert embedder.dim > 0

    docs = embedder.embed_documents(TEXTS)
    assert docs.shape == (len(TEXTS), embedder.dim)
    assert docs.dtype == np.float32
    norms = np.linalg.norm(docs, axis=1)
    # Unit rows; only a text with no features at all (hashing "") may map to zero.
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))
    np.testing.assert_allclose(docs[0], docs[3], atol=1e-6)

    query = embedder.embed_query(TEXTS[2])
    assert query.shape == (embedder.dim,)
    assert query.dtype == np.float32
    np.testing.assert_allclose(query, docs[2], atol=1e-5)

    empty = embedder.embed_documents([])
    assert empty.shape == (0, embedder.dim)
    assert empty.dtype == np.float32

    assert embedder.embed_documents(("tuples", "work")).shape == (2, embedder.dim)
