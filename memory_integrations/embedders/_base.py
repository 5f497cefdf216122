"""The embedder protocol every vector source implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import ValidationError

Vectors = npt.NDArray[np.float32]
"""A ``(n, dim)`` float32 matrix of L2-normalised rows."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    ``name`` identifies the model (the store records it, with ``dim``, and refuses to mix
    vectors from different embedders). Implementations must be thread-safe.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed texts that will be stored and searched."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query; returns a ``(dim,)`` vector."""
        ...


@runtime_checkable
class ChunkingEmbedder(Embedder, Protocol):
    """An embedder with a window (its model's sequence length) that can embed a long text
    in overlapping windows, so every part of the text is represented by a vector."""

    def embed_document_chunks(self, texts: Sequence[str], *, max_chunks: int) -> list[Vectors]:
        """Embed each text by windows: a ``(chunks, dim)`` matrix per text, the first row
        equal to ``embed_documents``'s vector; at most ``max_chunks`` rows."""
        ...


def normalize_rows(matrix: npt.NDArray[np.floating]) -> Vectors:
    """L2-normalise each row (zero rows stay zero) and return float32."""
    out = np.asarray(matrix, dtype=np.float32)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (out / norms).astype(np.float32, copy=False)
    return result


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts to embed, as a list of strings (a bare string is refused: wrap it)."""
    if isinstance(texts, str):
        raise ValidationError(
            "embed_documents takes a sequence of texts, got a single str; "
            "wrap it in a list or call embed_query."
        )
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise ValidationError(
                f"texts[{i}] is a {type(text).__name__}, not a str; embed only strings."
            )
    return checked
