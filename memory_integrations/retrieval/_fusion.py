"""Hybrid ranking: fuse dense cosine similarity with BM25, smoothed over neighbouring turns.

Measured on LoCoMo (see docs/benchmarks.md): BM25 alone beats dense MiniLM alone, and
reciprocal-rank fusion of the two barely beats BM25. Fusing the *normalised scores* keeps the
margin information RRF throws away, and letting a chat turn inherit part of its neighbours'
relevance recovers answers that sit one turn away from the words the question uses. A
session's first and last turns, which have a neighbour on one side only, inherit from a
typical candidate (the pool's median) on the other, instead of from nothing.

The keyword half is scaled by the share of the query's word weight (idf) that occurs in the
searched memory at all: when half of a short query's words appear nowhere, a match on the
other half cannot claim the whole keyword half (the Couchbase guide's "payment preferences"
example, where one stemmed word used to outrank a far closer paraphrase). Conversational
cues (see ``_cues``) then move answers above the questions that echo the query, and a
query naming a date favours what was said then. Last, every candidate gains a share of the
best score in its session: the answer's session holds more of what the query is about,
which lifts its other turns into the top few (it never changes the first result).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._cues import DATE_DECAY_DAYS, PoolCues
from ._index import DenseScorer


@dataclass(frozen=True)
class RankingConfig:
    """Weights of the fused score (the defaults are measured: docs/benchmarks.md)."""

    depth: int = 50  # candidates taken from each of the dense and keyword lists
    dense_weight: float = 0.5  # of the min-max normalised cosine
    keyword_weight: float = 0.7  # of BM25 over the pool's best, times the query's coverage
    author_weight: float = 0.3  # the block's author is named in the query
    time_weight: float = 0.3  # the query asks when, the block states a time
    previous_weight: float = 0.3  # share of the previous turn's score a turn inherits
    answer_weight: float = 0.3  # more of it when the previous turn is a question
    next_weight: float = 0.1  # share of the next turn's score
    next_dense_weight: float = 0.2  # share of the next turn's dense score
    question_penalty: float = 0.1  # a question is seldom the answer itself
    date_weight: float = 0.5  # created on or right after the date the query names
    date_decay_days: float = DATE_DECAY_DAYS  # how fast that fades after the date
    session_weight: float = 0.5  # share of the best score in the candidate's session

    @property
    def ceiling(self) -> float:
        """The highest fused score possible: scores are divided by it to lie in [0, 1]."""
        own = self.dense_weight + self.keyword_weight + self.author_weight + self.time_weight
        inherited = self.previous_weight + self.answer_weight + self.next_weight
        turn = own * (1 + inherited) + self.next_dense_weight * self.dense_weight
        return (turn + self.date_weight) * (1 + self.session_weight)


#: Fusion without conversational cues or neighbours, for collections that are not chats.
PLAIN_RANKING = RankingConfig(
    keyword_weight=0.5,
    author_weight=0.0,
    time_weight=0.0,
    previous_weight=0.0,
    answer_weight=0.0,
    next_weight=0.0,
    next_dense_weight=0.0,
    question_penalty=0.0,
    date_weight=0.0,
    session_weight=0.0,
)


def _minmax(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-12:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    out: npt.NDArray[np.float32] = (values - lo) / (hi - lo)
    return out


def _middle(values: npt.NDArray[np.floating]) -> float:
    """The (lower) median, without np.median's overhead on a small pool."""
    middle = (values.size - 1) // 2
    return float(np.partition(values, middle)[middle])


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
    coverage: float = 1.0,
    cues: Callable[[npt.NDArray[np.int64]], PoolCues] | None = None,
) -> list[tuple[int, float, float]]:
    """Rank visible positions; returns the top ``k`` as (position, score in [0, 1], cosine).

    Candidates are the dense and keyword top lists plus their visible neighbours; only
    candidates at or above the cosine ``threshold`` are returned. ``coverage`` is the
    query's keyword coverage (see :func:`fuse`); ``cues`` gives the cues of pool positions.
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
        coverage=coverage,
        cues=None if cues is None else cues(pool),
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
    coverage: float = 1.0,
    cues: PoolCues | None = None,
) -> list[tuple[int, float, float]]:
    """Score a candidate pool; returns the top ``k`` as (pool index, score in [0, 1], cosine).

    ``prev``/``nxt`` give each candidate's neighbouring turn as a pool index (-1 when it has
    none in the pool). ``coverage`` (0..1) is the share of the query's idf weight carried by
    words that occur in the searched memory at all. Ties keep pool order.
    """
    if cosine.size == 0:
        return []
    dense = config.dense_weight * _minmax(cosine)
    fused = dense.copy()
    if keyword is not None and float(keyword.max()) > 0:
        fused += config.keyword_weight * coverage * (keyword / float(keyword.max()))
    question = np.zeros(cosine.size, np.bool_)
    if cues is not None:
        question = cues.question
        fused += config.author_weight * cues.author_named + config.time_weight * cues.timely
    final = fused - config.question_penalty * question
    # A turn with no neighbour on one side inherits from a typical candidate there.
    typical, typical_dense = _middle(fused), _middle(dense)
    opens = closes = np.zeros(cosine.size, np.bool_)
    if cues is not None and cues.opens is not None and cues.closes is not None:
        opens, closes = cues.opens, cues.closes
    has_prev, has_next = prev >= 0, nxt >= 0
    at_prev, at_next = np.maximum(prev, 0), np.maximum(nxt, 0)
    before = np.where(has_prev, fused[at_prev], np.where(opens, typical, 0.0))
    after = np.where(has_next, fused[at_next], np.where(closes, typical, 0.0))
    after_dense = np.where(has_next, dense[at_next], np.where(closes, typical_dense, 0.0))
    after_question = has_prev & question[at_prev]
    final += (config.previous_weight + config.answer_weight * after_question) * before
    final += config.next_weight * after + config.next_dense_weight * after_dense
    if cues is not None and cues.dated is not None:
        final += config.date_weight * cues.dated
    if cues is not None and cues.session is not None and config.session_weight:
        session = cues.session  # small non-negative codes
        best = np.full(int(session.max()) + 1, -np.inf)
        np.maximum.at(best, session, final)
        final += config.session_weight * best[session]
    final /= config.ceiling
    if threshold is not None:
        final[cosine < threshold] = -np.inf
    order = [i for i in np.argsort(-final, kind="stable")[:k] if np.isfinite(final[i])]
    # A question's penalty may take it below 0: it ranks last, and reports 0.
    return [(int(i), min(max(float(final[i]), 0.0), 1.0), float(cosine[i])) for i in order]
