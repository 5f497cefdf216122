"""Adapters that turn LangChain, LlamaIndex and sentence-transformers models into Embedders.

Nothing here imports those frameworks at module import: the wrappers duck-type the wrapped
object, and sentence-transformers is imported only when its adapter is built.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError, EmbeddingError, ValidationError
from ._base import Vectors, check_texts, normalize_rows

_MODEL_ATTRS = ("model", "model_name", "model_id", "deployment", "deployment_name")


def _model_label(obj: Any) -> str | None:
    for attr in _MODEL_ATTRS:
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value and value != "unknown":
            return value
    return None


class _WrappedEmbedder:
    """Shared logic: lazy dim probing, shape checks and normalisation."""

    _framework = ""

    def __init__(self, wrapped: Any, name: str | None, dim: int | None) -> None:
        self._wrapped = wrapped
        label = _model_label(wrapped)
        derived = f"{self._framework}:{type(wrapped).__name__}"
        self._name = name or (f"{derived}:{label}" if label else derived)
        self._dim = dim
        self._dim_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._wrapped!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        """The vector size; probed with one query embedding on first access if not given."""
        if self._dim is None:
            self.embed_query("dimension probe")
        assert self._dim is not None
        return self._dim

    @property
    def wrapped(self) -> Any:
        """The framework object being adapted."""
        return self._wrapped

    def _call_documents(self, texts: list[str]) -> Any:
        raise NotImplementedError

    def _call_query(self, text: str) -> Any:
        raise NotImplementedError

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` with the wrapped model; returns ``(len(texts), dim)`` unit rows."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            raw = self._call_documents(items)
        except (ConfigurationError, EmbeddingError, ValidationError):
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"{self._name} failed to embed {len(items)} texts: {type(exc).__name__}: {exc}"
            ) from exc
        return self._to_matrix(raw, len(items))

    def embed_query(self, text: str) -> Vectors:
        """Embed one query with the wrapped model; returns a ``(dim,)`` unit vector."""
        if not isinstance(text, str):
            raise ValidationError(f"embed_query takes a str, got {type(text).__name__}.")
        try:
            raw = self._call_query(text)
        except (ConfigurationError, EmbeddingError, ValidationError):
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"{self._name} failed to embed a query: {type(exc).__name__}: {exc}"
            ) from exc
        vector: Vectors = self._to_matrix([raw], 1)[0]
        return vector

    def _to_matrix(self, raw: Any, expected: int) -> Vectors:
        try:
            matrix = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"{self._name} returned something that is not a list of equal-length "
                f"float vectors ({exc})."
            ) from exc
        if matrix.ndim != 2 or matrix.shape[0] != expected or matrix.shape[1] == 0:
            raise EmbeddingError(
                f"{self._name} returned an array of shape {matrix.shape} for {expected} "
                "texts; expected one non-empty vector per text."
            )
        with self._dim_lock:
            if self._dim is None:
                self._dim = int(matrix.shape[1])
        if matrix.shape[1] != self._dim:
            raise ConfigurationError(
                f"{self._name} returned {matrix.shape[1]}-d vectors but {self._dim}-d were "
                "expected; pass the right dim= or fix the wrapped model."
            )
        return normalize_rows(matrix)


class LangChainEmbedder(_WrappedEmbedder):
    """Wraps a LangChain ``Embeddings`` (anything with ``embed_documents``/``embed_query``).

    Args:
        embeddings: the LangChain embeddings object.
        name: the embedder name recorded by the store; defaults to
            ``"langchain:<Class>[:<model>]"``.
        dim: the vector size if known; otherwise one query is embedded to learn it.
    """

    _framework = "langchain"

    def __init__(self, embeddings: Any, *, name: str | None = None, dim: int | None = None) -> None:
        if not (
            callable(getattr(embeddings, "embed_documents", None))
            and callable(getattr(embeddings, "embed_query", None))
        ):
            raise ConfigurationError(
                f"LangChainEmbedder needs an object with embed_documents() and embed_query() "
                f"(a langchain_core.embeddings.Embeddings), got {type(embeddings).__name__}."
            )
        super().__init__(embeddings, name, dim)

    def _call_documents(self, texts: list[str]) -> Any:
        return self._wrapped.embed_documents(texts)

    def _call_query(self, text: str) -> Any:
        return self._wrapped.embed_query(text)


class LlamaIndexEmbedder(_WrappedEmbedder):
    """Wraps a LlamaIndex ``BaseEmbedding`` (``get_text_embedding_batch``/``get_query_embedding``).

    Args:
        embed_model: the LlamaIndex embedding model.
        name: the embedder name recorded by the store; defaults to
            ``"llama-index:<Class>[:<model_name>]"``.
        dim: the vector size if known; otherwise one query is embedded to learn it.
    """

    _framework = "llama-index"

    def __init__(
        self, embed_model: Any, *, name: str | None = None, dim: int | None = None
    ) -> None:
        if not (
            callable(getattr(embed_model, "get_text_embedding_batch", None))
            and callable(getattr(embed_model, "get_query_embedding", None))
        ):
            raise ConfigurationError(
                "LlamaIndexEmbedder needs an object with get_text_embedding_batch() and "
                "get_query_embedding() (a llama_index.core.embeddings.BaseEmbedding), got "
                f"{type(embed_model).__name__}."
            )
        super().__init__(embed_model, name, dim)

    def _call_documents(self, texts: list[str]) -> Any:
        return self._wrapped.get_text_embedding_batch(texts)

    def _call_query(self, text: str) -> Any:
        return self._wrapped.get_query_embedding(text)


class SentenceTransformerEmbedder:
    """Runs any sentence-transformers model (needs ``pip install sentence-transformers``).

    The package is imported when the embedder is built and the model loads on first use.

    Args:
        model_name_or_path: a Hugging Face model id or a local directory.
        device: ``"cpu"``, ``"cuda"``...; ``None`` lets sentence-transformers choose.
        batch_size: texts per forward pass.
    """

    def __init__(
        self, model_name_or_path: str, *, device: str | None = None, batch_size: int = 32
    ) -> None:
        try:
            sentence_transformers = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise ImportError(
                "SentenceTransformerEmbedder needs the sentence-transformers package: run "
                "`pip install sentence-transformers` (it pulls in PyTorch), or use the "
                "default MiniLMEmbedder, which needs neither."
            ) from exc
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}.")
        self._module: Any = sentence_transformers
        self._model_name = model_name_or_path
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self._model_name!r}, device={self._device!r})"

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self._model_name}"

    @property
    def dim(self) -> int:
        model = self._loaded()
        getter = getattr(model, "get_sentence_embedding_dimension", None)
        size = getter() if callable(getter) else None
        if size is None:
            size = int(self.embed_query("dimension probe").shape[0])
        return int(size)

    def _loaded(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        self._model = self._module.SentenceTransformer(
                            self._model_name, device=self._device
                        )
                    except Exception as exc:
                        raise EmbeddingError(
                            f"sentence-transformers could not load {self._model_name!r}: "
                            f"{type(exc).__name__}: {exc}"
                        ) from exc
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns ``(len(texts), dim)`` unit rows."""
        items = check_texts(texts)
        model = self._loaded()
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            raw = model.encode(
                items,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbeddingError(
                f"{self.name} failed to embed {len(items)} texts: {type(exc).__name__}: {exc}"
            ) from exc
        return normalize_rows(np.asarray(raw, dtype=np.float32))

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; returns a ``(dim,)`` unit vector."""
        if not isinstance(text, str):
            raise ValidationError(f"embed_query takes a str, got {type(text).__name__}.")
        vector: Vectors = self.embed_documents([text])[0]
        return vector


def run_coroutine(awaitable: Any) -> Any:
    """Run an awaitable to completion from synchronous code, inside a loop or not."""

    async def wrapper() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrapper())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wrapper()).result()


class FunctionEmbedder:
    """A function (sync or async) from a list of texts to their vectors, as an Embedder.

    Args:
        func: ``func(texts) -> vectors`` (or an awaitable of them), e.g. LangGraph's
            ``IndexConfig["embed"]`` function.
        dim: the vector size if known; otherwise one text is embedded to learn it.
    """

    def __init__(self, func: Callable[[Sequence[str]], Any], dim: int | None) -> None:
        self._func = func
        self._dim = dim
        module = getattr(func, "__module__", None) or "function"
        qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
        self._name = f"function:{module}.{qualname}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed_documents(["dimension probe"]).shape[1])
        return self._dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        try:
            result = self._func(list(texts))
            if inspect.isawaitable(result):
                result = run_coroutine(result)
            matrix = np.asarray(result, dtype=np.float32)
        except Exception as exc:
            raise EmbeddingError(f"{self._name} failed to embed {len(texts)} texts: {exc}") from exc
        if matrix.ndim != 2 or matrix.shape[0] != len(texts):
            raise EmbeddingError(
                f"{self._name} returned shape {matrix.shape} for {len(texts)} texts; expected "
                "one vector per text"
            )
        return normalize_rows(matrix)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self.embed_documents([text])[0]
        return vector
