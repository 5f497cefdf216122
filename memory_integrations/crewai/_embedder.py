"""The CrewAI embedder callable, built on the engine's local embedder.

CrewAI hands storage backends vectors, never the text behind them, while the engine ranks
by text (vector + keyword). Every vector this embedder produces is remembered with its text
in a small process-wide table, so :class:`AgentMemoryStorage` can turn CrewAI's query vector
back into the query text.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..embedders import Embedder, resolve_embedder

_TABLE_SIZE = 8192


def _key(vector: Sequence[float] | np.ndarray[Any, Any]) -> bytes:
    data = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1)).tobytes()
    return hashlib.blake2b(data, digest_size=16).digest()


class _VectorTexts:
    """A thread-safe LRU table from a vector to the text it was made from."""

    def __init__(self, size: int = _TABLE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._texts: OrderedDict[bytes, str] = OrderedDict()

    def put(self, vector: Sequence[float] | np.ndarray[Any, Any], text: str) -> None:
        key = _key(vector)
        with self._lock:
            self._texts[key] = text
            self._texts.move_to_end(key)
            while len(self._texts) > self._size:
                self._texts.popitem(last=False)

    def get(self, vector: Sequence[float]) -> str | None:
        key = _key(vector)
        with self._lock:
            text = self._texts.get(key)
            if text is not None:
                self._texts.move_to_end(key)
            return text


vector_texts = _VectorTexts()
"""The process-wide table every :class:`AgentMemoryEmbedder` writes to."""


class AgentMemoryEmbedder:
    """A CrewAI embedder callable (``list[str] -> list[list[float]]``) that runs locally.

    It wraps one of the engine's embedders (default: the bundled all-MiniLM-L6-v2 on
    onnxruntime, so no OpenAI key is needed) and records which text each vector came from,
    which lets :class:`AgentMemoryStorage` search the engine by text. Pass it to CrewAI as
    ``Memory(embedder=...)``; :func:`agent_memory_for_crew` does this for you.
    """

    def __init__(self, embedder: Embedder | str | Any | None = None) -> None:
        self._embedder = resolve_embedder(embedder)

    @property
    def embedder(self) -> Embedder:
        """The engine embedder doing the work."""
        return self._embedder

    @property
    def dim(self) -> int:
        return self._embedder.dim

    def __repr__(self) -> str:
        return f"AgentMemoryEmbedder({self._embedder.name!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> AgentMemoryEmbedder:
        return self  # stateless apart from the model, which copies of a Memory share

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``; one vector (a list of floats) per text, in order."""
        items = list(texts)
        if not items:
            return []
        vectors = self._embedder.embed_documents(items)
        for vector, text in zip(vectors, items, strict=True):
            vector_texts.put(vector, text)
        rows: list[list[float]] = vectors.tolist()
        return rows
