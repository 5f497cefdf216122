"""Keyword relevance: an in-memory BM25 index per user.

Each user's index lives beside their vector matrix and is kept current the same way, so a
keyword query touches only that user's postings: one user's data never slows another's.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import snowballstemmer

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STEMMER = snowballstemmer.stemmer("english")

# Generic English function words, dropped from queries only (documents keep every token).
# The one-letter and two-letter fragments come from contractions split at the apostrophe.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t d ll m re ve
    """.split()
)

K1 = 1.2
B = 0.5


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    if word.isdigit():  # numbers do not stem, and each would fill the cache
        return word
    return str(_STEMMER.stemWord(word))


def document_terms(text: str) -> list[str]:
    """Stemmed, lower-cased tokens of a document (nothing dropped)."""
    return [stem(w) for w in _TOKEN.findall(text.lower())]


def query_terms(text: str) -> list[str]:
    """Distinct stemmed query terms without stopwords, in order."""
    seen: dict[str, None] = {}
    for word in _TOKEN.findall(text.lower()):
        if word not in STOPWORDS:
            seen.setdefault(stem(word), None)
    return list(seen)


def idf(documents: int, frequency: int) -> float:
    """BM25's inverse document frequency of a term found in ``frequency`` of ``documents``."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


# Bytes a term costs beyond its postings: its dict slot, its string and two array headers.
_TERM_OVERHEAD = 250


class KeywordIndex:
    """BM25 postings over documents identified by their position (0..n-1).

    Postings are compact typed arrays (4 bytes a position, 2 a term frequency), not Python
    lists of int objects: a short block costs tens of bytes here, not hundreds.
    """

    def __init__(self) -> None:
        self._postings: dict[str, tuple[array[int], array[int]]] = {}
        self._frozen: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = {}
        self._lengths: array[int] = array("I")
        self._lengths_array: npt.NDArray[np.float32] | None = None
        self._total_length = 0
        self._posting_count = 0
        self._frozen_bytes = 0

    @property
    def nbytes(self) -> int:
        """Approximate memory held, in bytes (kept as running counts: O(1))."""
        return (
            6 * self._posting_count  # 4-byte position + 2-byte frequency
            + self._frozen_bytes
            + _TERM_OVERHEAD * len(self._postings)
            + 4 * len(self._lengths)
        )

    @property
    def size(self) -> int:
        return len(self._lengths)

    def add(self, text: str) -> None:
        """Index the next document (its position is the current size)."""
        position = len(self._lengths)
        terms = document_terms(text)
        for term, count in Counter(terms).items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = (array("I"), array("H"))
            postings[0].append(position)
            postings[1].append(min(count, 65_535))
            self._posting_count += 1
            frozen = self._frozen.pop(term, None)
            if frozen is not None:
                self._frozen_bytes -= frozen[0].nbytes + frozen[1].nbytes
        self._lengths.append(len(terms))
        self._lengths_array = None
        self._total_length += len(terms)

    def _arrays(self, term: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None:
        arrays = self._frozen.get(term)
        if arrays is None:
            postings = self._postings.get(term)
            if postings is None:
                return None
            arrays = (
                np.frombuffer(postings[0], np.uint32).astype(np.int64),
                np.frombuffer(postings[1], np.uint16).astype(np.float32),
            )
            self._frozen[term] = arrays
            self._frozen_bytes += arrays[0].nbytes + arrays[1].nbytes
        return arrays

    def coverage(self, terms: list[str]) -> float:
        """Share of the terms' idf weight carried by terms that occur in some document
        (1.0 when every term does; a term no document has weighs as a df of 0)."""
        n = len(self._lengths)
        known = total = 0.0
        for term in terms:
            postings = self._postings.get(term)
            df = 0 if postings is None else len(postings[0])
            weight = idf(n, df)
            total += weight
            if df:
                known += weight
        return known / total if total > 0 else 1.0

    def scores(self, terms: list[str]) -> npt.NDArray[np.float32] | None:
        """BM25 score of every document for the query terms (None when nothing matches)."""
        n = len(self._lengths)
        if not n or not terms:
            return None
        if self._lengths_array is None:
            self._lengths_array = np.frombuffer(self._lengths, np.uint32).astype(np.float32)
        lengths = self._lengths_array
        norm = K1 * (1 - B + B * lengths / (self._total_length / n or 1.0))
        total: npt.NDArray[np.float32] | None = None
        for term in terms:
            arrays = self._arrays(term)
            if arrays is None:
                continue
            positions, tf = arrays
            weight = idf(n, len(positions))
            if total is None:
                total = np.zeros(n, np.float32)
            total[positions] += weight * tf * (K1 + 1) / (tf + norm[positions])
        return total
