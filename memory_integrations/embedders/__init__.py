"""Embedders: the protocol, a deterministic hashing embedder, and the local default."""

from __future__ import annotations

import inspect
import os
from typing import Any

from ..errors import ConfigurationError
from ._adapters import (
    FunctionEmbedder,
    LangChainEmbedder,
    LlamaIndexEmbedder,
    SentenceTransformerEmbedder,
)
from ._base import ChunkingEmbedder, Embedder, Vectors, normalize_rows
from ._hashing import HashingEmbedder
from ._onnx import MINILM_DIM, MINILM_NAME, MiniLMEmbedder, default_embedder
from ._openai import OPENAI_BASE_URL, OpenAICompatibleEmbedder

_ACCEPTED = (
    "None, 'default' or 'minilm' (the local all-MiniLM-L6-v2), 'hashing' or 'hashing:<dim>', "
    "'openai:<model>' (base URL from OPENAI_BASE_URL), 'sentence-transformers:<model>', "
    "an Embedder instance, a LangChain Embeddings or a LlamaIndex BaseEmbedding"
)


def _is_embedder(obj: object) -> bool:
    # Static lookup: a plain isinstance() against the runtime-checkable protocol evaluates
    # properties on Python 3.11, and ``dim`` may cost a network round trip.
    for attr in ("name", "dim", "embed_documents", "embed_query"):
        try:
            inspect.getattr_static(obj, attr)
        except AttributeError:
            return False
    return True


def _has_methods(obj: object, *names: str) -> bool:
    return all(callable(getattr(obj, name, None)) for name in names)


def _from_string(spec: str) -> Embedder:
    text = spec.strip()
    kind, _, arg = text.partition(":")
    kind = kind.lower()
    if kind in ("default", "minilm", MINILM_NAME.lower()) and not arg:
        return default_embedder()
    if kind == "hashing":
        if not arg:
            return HashingEmbedder()
        try:
            return HashingEmbedder(int(arg))
        except ValueError as exc:
            raise ConfigurationError(
                f"Bad embedder spec {spec!r}: 'hashing:<dim>' needs an integer dim of at "
                "least 8, e.g. 'hashing:256'."
            ) from exc
    if kind == "openai":
        if not arg:
            raise ConfigurationError(
                f"Bad embedder spec {spec!r}: name the model, e.g. "
                "'openai:text-embedding-3-small' (or 'openai:nomic-embed-text' with "
                "OPENAI_BASE_URL=http://localhost:11434/v1 for Ollama)."
            )
        base_url = os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
        return OpenAICompatibleEmbedder(arg, base_url=base_url)
    if kind in ("sentence-transformers", "sentence_transformers", "st") and arg:
        return SentenceTransformerEmbedder(arg)
    raise ConfigurationError(f"Unknown embedder spec {spec!r}; accepted: {_ACCEPTED}.")


def resolve_embedder(
    spec: str | Embedder | Any | None = None, *, dim: int | None = None
) -> Embedder:
    """Turn a user-facing embedder choice into an :class:`Embedder`.

    Accepts ``None``/``"default"``/``"minilm"`` (the shared local MiniLM embedder),
    ``"hashing"``/``"hashing:<dim>"``, ``"openai:<model>"`` (base URL from the
    ``OPENAI_BASE_URL`` environment variable, key from ``OPENAI_API_KEY``),
    ``"sentence-transformers:<model>"``, any object implementing :class:`Embedder`
    (returned as is), a LangChain ``Embeddings``, a LlamaIndex ``BaseEmbedding``, or a
    function from texts to vectors (sync or async). ``dim`` is the vector size of a
    wrapped embeddings object or function, when known (else one text is embedded to learn
    it). Anything else raises :class:`~memory_integrations.errors.ConfigurationError`.
    """
    if spec is None:
        return default_embedder()
    if isinstance(spec, str):
        return _from_string(spec)
    if _is_embedder(spec):
        embedder: Embedder = spec
        return embedder
    if _has_methods(spec, "get_text_embedding_batch", "get_query_embedding"):
        return LlamaIndexEmbedder(spec)
    if _has_methods(spec, "embed_documents", "embed_query"):
        return LangChainEmbedder(spec, dim=dim)
    if callable(spec):
        return FunctionEmbedder(spec, dim)
    raise ConfigurationError(
        f"Cannot use a {type(spec).__name__} as an embedder; accepted: {_ACCEPTED}."
    )


__all__ = [
    "MINILM_DIM",
    "MINILM_NAME",
    "OPENAI_BASE_URL",
    "ChunkingEmbedder",
    "Embedder",
    "FunctionEmbedder",
    "HashingEmbedder",
    "LangChainEmbedder",
    "LlamaIndexEmbedder",
    "MiniLMEmbedder",
    "OpenAICompatibleEmbedder",
    "SentenceTransformerEmbedder",
    "Vectors",
    "default_embedder",
    "normalize_rows",
    "resolve_embedder",
]


def __getattr__(name: str) -> Any:
    # Kept for code written against earlier versions: the benchmark lives in ``bench``.
    if name in ("measure_embedder", "EmbedderBenchmark"):
        import importlib

        return getattr(importlib.import_module("memory_integrations.bench"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
