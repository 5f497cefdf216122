"""Conversational cues the ranking weighs beside the dense and keyword scores.

Measured on LoCoMo (docs/benchmarks.md, ``bench locomo --scope session``), the top result of
a search over a conversation is most often wrong in three ways, each fixed by one cue:

* a *question* in the conversation echoes the query's words, while the answer is the turn
  after it: a question passes relevance on to its answer and ranks a little lower itself;
* the query names a person and the top turn is the *other* speaker's: a turn whose author is
  named in the query ranks higher;
* a "when" query: the turn that states a time ("yesterday", "last May", "2022") is the
  answer, not the one that only mentions the event.

The cues are English; in other languages they simply do not fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STATES_TIME = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|ago|last|next|recently|earlier|soon|since|"
    r"weekend|week|month|year|morning|evening|afternoon|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_ASKS_WHEN = re.compile(r"^\W*(when|how long|what (year|month|day|date|time))\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    """Whether a block's text ends with a question mark."""
    return text.rstrip().endswith("?")


def states_time(text: str) -> bool:
    """Whether a block's text states a time: a relative day, a weekday, a month, a year."""
    return _STATES_TIME.search(text) is not None


def author_key(name: str | None) -> str:
    """An author's name as matched against query words: lower case, trimmed ("" for none).
    A name of several words matches when the query has every one of them."""
    return "" if not name else name.strip().lower()


@dataclass(frozen=True)
class QueryCues:
    """What a query asks about: its words (lower case) and whether it asks *when*."""

    words: frozenset[str]
    asks_when: bool

    @classmethod
    def of(cls, query: str) -> QueryCues:
        return cls(
            words=frozenset(_WORD.findall(query.lower())),
            asks_when=_ASKS_WHEN.search(query) is not None,
        )

    def names(self, author: str) -> bool:
        """Whether the query names ``author`` (every word of the name appears in it)."""
        parts = _WORD.findall(author)
        return bool(parts) and all(part in self.words for part in parts)


@dataclass(frozen=True)
class PoolCues:
    """Per-candidate cues of a candidate pool, aligned with its scores."""

    question: npt.NDArray[np.bool_]
    author_named: npt.NDArray[np.bool_]
    timely: npt.NDArray[np.bool_]  # states a time, and the query asks when

    @classmethod
    def of(
        cls,
        query: QueryCues,
        texts: list[str],
        authors: list[str | None],
    ) -> PoolCues:
        """Cues of candidates given by their text and author name."""
        return cls(
            question=np.array([is_question(t) for t in texts], np.bool_),
            author_named=np.array([query.names(author_key(a)) for a in authors], np.bool_),
            timely=np.array([query.asks_when and states_time(t) for t in texts], np.bool_),
        )
