"""Hybrid ranking: fuse dense cosine similarity with BM25 keyword scores."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+", re.UNICODE)

# Small, generic English stop list: function words that carry no topic in a keyword query.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)


def keyword_terms(query: str) -> list[str]:
    """Distinct lower-cased non-stopword terms of a query, in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def fuse(
    dense_seqs: npt.NDArray[np.int64],
    dense_scores: npt.NDArray[np.float32],
    keyword: list[tuple[int, float]],
    *,
    dense_weight: float = 0.5,
) -> dict[int, float]:
    """Weighted sum of per-query min-max normalised dense and keyword scores.

    Returns ``{seq: fused score in [0, 1]}`` for every candidate of either list.
    """
    fused: dict[int, float] = {}
    if dense_seqs.size:
        lo, hi = float(dense_scores.min()), float(dense_scores.max())
        span = hi - lo or 1.0
        norm = (dense_scores - lo) / span
        for seq, value in zip(dense_seqs.tolist(), norm.tolist(), strict=True):
            fused[seq] = dense_weight * value
    if keyword:
        values = np.array([s for _, s in keyword], dtype=np.float64)
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo or 1.0
        for seq, score in keyword:
            fused[seq] = fused.get(seq, 0.0) + (1 - dense_weight) * (score - lo) / span
    return fused
