"""Distance types of the store's index: LangGraph's scores for cosine, l2 and inner product.

``PostgresIndexConfig["distance_type"]`` picks how ``PostgresStore`` scores a match (the
best of an item's vectors): ``"cosine"`` gives ``1 - cosine distance``, ``"l2"`` the negated
Euclidean distance, ``"inner_product"`` the dot product. This store keeps every vector
L2-normalised (the embedders' contract), so it computes those same scores on unit vectors:
they equal PostgresStore's whenever the embedding model itself returns unit vectors, and the
order of the three is the cosine order. A model that returns vectors of another length would
get different numbers from PostgresStore, so with ``"l2"`` or ``"inner_product"`` the store
checks the raw vectors of the ``embed`` it was given (a LangChain ``Embeddings`` or a
function) and refuses a non-unit one with a :class:`NonUnitVectorError`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..embedders import Embedder, FunctionEmbedder, LangChainEmbedder
from ..errors import ConfigurationError, EmbeddingError

DistanceType = Literal["cosine", "l2", "inner_product"]
DISTANCE_TYPES: tuple[DistanceType, ...] = ("cosine", "l2", "inner_product")
_UNIT_TOLERANCE = 1e-3


class NonUnitVectorError(ConfigurationError):
    """An ``l2`` / ``inner_product`` store was given an embedder whose vectors are not unit
    length: its scores would differ from LangGraph's PostgresStore."""


def check_distance_type(value: object) -> DistanceType:
    if value is None:
        return "cosine"
    if value not in DISTANCE_TYPES:
        raise ConfigurationError(
            f"IndexConfig distance_type must be one of {list(DISTANCE_TYPES)}, got {value!r}"
        )
    return value


def _refuse_non_unit(raw: Any, name: str, distance: str) -> Any:
    """``raw`` (one vector or a list of them) unchanged, if every vector is unit length."""
    try:
        matrix = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        return raw  # not vectors: the embedder adapter reports it
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.size == 0:
        return raw
    norms = np.linalg.norm(matrix, axis=1)
    bad = np.flatnonzero((norms > 0) & (np.abs(norms - 1.0) > _UNIT_TOLERANCE))
    if bad.size:
        raise NonUnitVectorError(
            f"distance_type={distance!r} needs unit-length vectors, but {name} returned one "
            f"of length {norms[bad[0]]:.4g}. AgentMemoryStore keeps vectors L2-normalised, so "
            f"its {distance} scores would not be the ones PostgresStore computes from the raw "
            "vectors. Use distance_type='cosine' (the same order) or return normalised "
            "vectors from the embed function."
        )
    return raw


class _UnitCheckedEmbeddings:
    """A LangChain ``Embeddings`` whose every vector is checked to be unit length."""

    def __init__(self, wrapped: Any, name: str, distance: str) -> None:
        self._wrapped = wrapped
        self._name = name
        self._distance = distance

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._wrapped, attribute)

    def embed_documents(self, texts: list[str]) -> Any:
        return _refuse_non_unit(self._wrapped.embed_documents(texts), self._name, self._distance)

    def embed_query(self, text: str) -> Any:
        return _refuse_non_unit(self._wrapped.embed_query(text), self._name, self._distance)


def _unit_checked_function(
    func: Callable[[Sequence[str]], Any], name: str, distance: str
) -> Callable[[Sequence[str]], Any]:
    @functools.wraps(func)  # keeps the name the store records for it
    def checked(texts: Sequence[str]) -> Any:
        result = func(texts)
        if inspect.isawaitable(result):
            awaitable = result

            async def later() -> Any:
                return _refuse_non_unit(await awaitable, name, distance)

            return later()
        return _refuse_non_unit(result, name, distance)

    return checked


def unit_checked(embedder: Embedder, embed: Any, dims: int | None, distance: str) -> Embedder:
    """``embedder`` (made from ``embed``), checking ``embed``'s raw vectors for l2 / ip.

    Only a LangChain ``Embeddings`` or a function is checked: an ``Embedder`` returns unit
    vectors by contract, and a named model (``"openai:..."``) returns unit vectors.
    """
    if distance == "cosine" or isinstance(embed, str) or embed is None:
        return embedder
    if isinstance(embedder, LangChainEmbedder) and embedder.wrapped is embed:
        return LangChainEmbedder(
            _UnitCheckedEmbeddings(embed, embedder.name, distance), name=embedder.name, dim=dims
        )
    if isinstance(embedder, FunctionEmbedder):
        checked = FunctionEmbedder(_unit_checked_function(embed, embedder.name, distance), dims)
        if checked.name == embedder.name:
            return checked
    return embedder


def unwrap_non_unit(exc: EmbeddingError) -> None:
    """Re-raise the :class:`NonUnitVectorError` an embedder wrapped, if that is the cause."""
    cause = exc.__cause__
    if isinstance(cause, NonUnitVectorError):
        raise cause from None


def best_score(
    distance: DistanceType,
    matrix: npt.NDArray[np.float32],
    positions: npt.NDArray[np.int64],
    query: npt.NDArray[np.float32],
    dots: npt.NDArray[np.float32],
) -> float:
    """The score of an item whose vectors sit at ``positions`` (``dots``: their dot
    products with the query), the way PostgresStore scores its best vector."""
    if distance != "l2":
        return float(dots.max())  # cosine and inner product: the same on unit vectors
    rows = matrix[positions].astype(np.float64)
    squared = np.einsum("ij,ij->i", rows, rows) + float(query @ query) - 2.0 * dots
    return -float(np.sqrt(np.maximum(squared, 0.0)).min())
