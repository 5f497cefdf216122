"""Hybrid ranking: fuse dense cosine similarity with BM25, smoothed over neighbouring turns.

Measured on LoCoMo (see docs/benchmarks.md): BM25 alone beats dense MiniLM alone, and
reciprocal-rank fusion of the two barely beats BM25. Fusing the *normalised scores* keeps the
margin information RRF throws away, and letting a chat turn inherit part of its neighbours'
relevance recovers answers that sit one turn away from the words the question uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._index import DenseScorer


@dataclass(frozen=True)
class RankingConfig:
    depth: int = 50  # candidates taken from each of the dense and keyword lists
    dense_weight: float = 0.5
    previous_weight: float = 0.3  # share of the previous turn's score a turn inherits
    next_weight: float = 0.1


def _minmax(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-12:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    out: npt.NDArray[np.float32] = (values - lo) / (hi - lo)
    return out


def _top(values: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.int64]:
    if values.size <= count:
        return np.arange(values.size)
    return np.argpartition(-values, count - 1)[:count]


def hybrid_rank(
    visible: npt.NDArray[np.int64],
    dense: DenseScorer,
    keyword: npt.NDArray[np.float32] | None,
    neighbours: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    k: int,
    *,
    threshold: float | None = None,
    config: RankingConfig = RankingConfig(),
) -> list[tuple[int, float, float]]:
    """Rank visible positions; returns the top ``k`` as (position, score in [0, 1], cosine).

    Candidates are the dense and keyword top lists plus their visible neighbours; only
    candidates at or above the cosine ``threshold`` are returned.
    """
    if visible.size == 0:
        return []
    candidates = dense.top(config.depth)
    if keyword is not None:
        vis_kw = keyword[visible]
        hits = np.flatnonzero(vis_kw > 0)
        if hits.size:
            best = hits[_top(vis_kw[hits], config.depth)]
            candidates = np.union1d(candidates, visible[best])
    size = neighbours[0].shape[0]
    is_visible = np.zeros(size, np.bool_)
    is_visible[visible] = True
    prev, nxt = neighbours
    around = np.concatenate([prev[candidates], nxt[candidates]])
    around = around[around >= 0]
    around = around[is_visible[around]]
    pool = np.union1d(candidates, around)
    ranked = fuse(
        dense.of(pool),
        None if keyword is None else keyword[pool],
        pool_indexes(prev[pool], pool),
        pool_indexes(nxt[pool], pool),
        k,
        threshold=threshold,
        config=config,
    )
    return [(int(pool[i]), score, cosine) for i, score, cosine in ranked]


def pool_indexes(
    positions: npt.NDArray[np.int64], pool: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Where each position (index slot or seq) sits in the sorted ``pool`` (-1 if absent)."""
    at = np.searchsorted(pool, positions).clip(0, max(pool.size - 1, 0))
    found = (positions >= 0) & (pool[at] == positions)
    return np.where(found, at, -1)


def fuse(
    cosine: npt.NDArray[np.float32],
    keyword: npt.NDArray[np.float32] | None,
    prev: npt.NDArray[np.int64],
    nxt: npt.NDArray[np.int64],
    k: int,
    *,
    threshold: float | None = None,
    config: RankingConfig = RankingConfig(),
) -> list[tuple[int, float, float]]:
    """Score a candidate pool; returns the top ``k`` as (pool index, score in [0, 1], cosine).

    ``prev``/``nxt`` give each candidate's neighbouring turn as a pool index (-1 when it has
    none in the pool); ties keep pool order.
    """
    if cosine.size == 0:
        return []
    fused = config.dense_weight * _minmax(cosine)
    if keyword is not None:
        fused += (1 - config.dense_weight) * _minmax(keyword)
    final = fused.copy()
    for lent, weight in ((prev, config.previous_weight), (nxt, config.next_weight)):
        has = lent >= 0
        final[has] += weight * fused[lent[has]]
    final /= 1 + config.previous_weight + config.next_weight
    if threshold is not None:
        final[cosine < threshold] = -np.inf
    order = [i for i in np.argsort(-final, kind="stable")[:k] if np.isfinite(final[i])]
    return [(int(i), float(final[i]), float(cosine[i])) for i in order]
