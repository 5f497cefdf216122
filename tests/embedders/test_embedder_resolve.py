"""resolve_embedder: user-facing specs to Embedders."""

from __future__ import annotations

from typing import Any

import pytest

from memory_integrations.embedders import (
    OPENAI_BASE_URL,
    Embedder,
    HashingEmbedder,
    LangChainEmbedder,
    LlamaIndexEmbedder,
    MiniLMEmbedder,
    OpenAICompatibleEmbedder,
    default_embedder,
    resolve_embedder,
)
from memory_integrations.errors import ConfigurationError


@pytest.mark.parametrize("spec", [None, "default", "minilm", "MiniLM", " default "])
def test_default_specs_give_the_shared_minilm(spec: str | None) -> None:
    embedder = resolve_embedder(spec)
    assert isinstance(embedder, MiniLMEmbedder)
    assert embedder is default_embedder()


def test_hashing_specs() -> None:
    plain = resolve_embedder("hashing")
    assert isinstance(plain, HashingEmbedder)
    assert plain.dim == 384
    sized = resolve_embedder("hashing:256")
    assert isinstance(sized, HashingEmbedder)
    assert sized.dim == 256


@pytest.mark.parametrize("spec", ["hashing:abc", "hashing:4"])
def test_bad_hashing_specs(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="hashing:<dim>"):
        resolve_embedder(spec)


def test_openai_spec_uses_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    embedder = resolve_embedder("openai:text-embedding-3-small")
    assert isinstance(embedder, OpenAICompatibleEmbedder)
    assert embedder.name == "openai:text-embedding-3-small"
    assert embedder.base_url == OPENAI_BASE_URL

    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    ollama = resolve_embedder("openai:nomic-embed-text:latest")
    assert isinstance(ollama, OpenAICompatibleEmbedder)
    assert ollama.model == "nomic-embed-text:latest"  # model tags keep their colon
    assert ollama.base_url == "http://localhost:11434/v1"


def test_openai_spec_needs_a_model() -> None:
    with pytest.raises(ConfigurationError, match="openai:text-embedding-3-small"):
        resolve_embedder("openai:")


def test_embedder_instances_pass_through() -> None:
    hashing = HashingEmbedder(64)
    assert resolve_embedder(hashing) is hashing


def test_embedder_with_lazy_dim_is_not_probed() -> None:
    class Lazy:
        name = "lazy"

        @property
        def dim(self) -> int:
            raise AssertionError("resolve_embedder must not read dim")

        def embed_documents(self, texts: Any) -> Any:
            raise AssertionError

        def embed_query(self, text: str) -> Any:
            raise AssertionError

    lazy = Lazy()
    assert resolve_embedder(lazy) is lazy


def test_langchain_embeddings_are_wrapped() -> None:
    fake = pytest.importorskip("langchain_core.embeddings").DeterministicFakeEmbedding(size=8)
    embedder = resolve_embedder(fake)
    assert isinstance(embedder, LangChainEmbedder)
    assert isinstance(embedder, Embedder)
    assert embedder.embed_query("x").shape == (8,)


def test_llama_index_embeddings_are_wrapped() -> None:
    mock = pytest.importorskip("llama_index.core.embeddings").MockEmbedding(embed_dim=8)
    embedder = resolve_embedder(mock)
    assert isinstance(embedder, LlamaIndexEmbedder)
    assert embedder.embed_documents(["a", "b"]).shape == (2, 8)


@pytest.mark.parametrize("spec", ["word2vec", "minilm:large", 42, object(), ""])
def test_unknown_specs_list_what_is_accepted(spec: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_embedder(spec)
    message = str(caught.value)
    assert "hashing:<dim>" in message
    assert "openai:<model>" in message
    assert "LangChain" in message
