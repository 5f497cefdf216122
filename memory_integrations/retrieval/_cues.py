"""Conversational cues the ranking weighs beside the dense and keyword scores.

Measured on LoCoMo (docs/benchmarks.md, ``bench locomo --scope session``), the top result of
a search over a conversation is most often wrong in three ways, each fixed by one cue:

* a *question* in the conversation echoes the query's words, while the answer is the turn
  after it: a question passes relevance on to its answer and ranks a little lower itself;
* the query names a person and the top turn is the *other* speaker's: a turn whose author is
  named in the query ranks higher;
* a "when" query: the turn that states a time ("yesterday", "last May", "2022") is the
  answer, not the one that only mentions the event;
* a query that names a date ("on 8 May 2023", "in July 2023", "in 2022"): what was said on
  that date or in the days right after it (its ``created_at``) is more likely the answer.

Besides cues, the ranking uses the conversation's shape: a session's first and last turns,
which have a neighbour on one side only, and the session each candidate belongs to.

The cues are English; in other languages they simply do not fire.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime

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

_MONTHS = {
    name.lower(): number
    for names in (calendar.month_name, calendar.month_abbr)
    for number, name in enumerate(names)
    if name
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"((?:19|20)\d\d)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+({_MONTH})\.?,?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?,?\s+{_YEAR}\b", re.IGNORECASE)
_ONLY_YEAR = re.compile(rf"\b{_YEAR}\b")
# A month named without a year; "may" is left out: it is far more often the verb.
_ONLY_MONTH = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)
_DAY_US = 86_400_000_000
DATE_DECAY_DAYS = 3.0  # how fast the date cue fades after the named period


def _us(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000)


@dataclass(frozen=True)
class Period:
    """A time a query names: a day, a month or a year (``start``/``end`` in epoch
    microseconds, UTC), or a month of any year (``month``, 1-12)."""

    start: int = 0
    end: int = 0
    month: int | None = None

    def closeness(
        self, created_us: npt.NDArray[np.int64], decay_days: float
    ) -> npt.NDArray[np.float32]:
        """1 for blocks created within the period, fading over the ``decay_days`` after
        it (people tell of a day in the days that follow); 0 for blocks from before it."""
        if self.month is not None:
            months = created_us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
            in_month: npt.NDArray[np.float32] = (months % 12 + 1 == self.month).astype(np.float32)
            return in_month
        days_after = np.maximum(created_us - self.end, 0) / _DAY_US
        near = np.exp(-days_after / max(decay_days, 1e-9))
        closeness: npt.NDArray[np.float32] = np.where(created_us < self.start, 0.0, near).astype(
            np.float32
        )
        return closeness


def named_period(query: str) -> Period | None:
    """The date, month or year a query names, if any (the first one it names)."""
    for pattern, day_at, month_at in ((_DAY_MONTH_YEAR, 1, 2), (_MONTH_DAY_YEAR, 2, 1)):
        for found in pattern.finditer(query):
            month = _MONTHS[found[month_at].lower()]
            try:
                day = datetime(int(found[3]), month, int(found[day_at]))
            except ValueError:  # "31 February 2023"
                continue
            return Period(_us(day), _us(day) + _DAY_US)
    if match := _MONTH_YEAR.search(query):
        year, month = int(match[2]), _MONTHS[match[1].lower()]
        days = calendar.monthrange(year, month)[1]
        start = _us(datetime(year, month, 1))
        return Period(start, start + days * _DAY_US)
    if match := _ONLY_YEAR.search(query):
        year = int(match[1])
        return Period(_us(datetime(year, 1, 1)), _us(datetime(year + 1, 1, 1)))
    if match := _ONLY_MONTH.search(query):
        return Period(month=_MONTHS[match[1].lower()])
    return None


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
    """What a query asks about: its words (lower case), whether it asks *when*, and the
    date it names."""

    words: frozenset[str]
    asks_when: bool
    period: Period | None = None

    @classmethod
    def of(cls, query: str) -> QueryCues:
        return cls(
            words=frozenset(_WORD.findall(query.lower())),
            asks_when=_ASKS_WHEN.search(query) is not None,
            period=named_period(query),
        )

    def dated(
        self, created_us: npt.NDArray[np.int64], decay_days: float
    ) -> npt.NDArray[np.float32]:
        """How close each block's creation time is to the period the query names (zeros
        when it names none): see :meth:`Period.closeness`."""
        if self.period is None:
            return np.zeros(created_us.shape, np.float32)
        return self.period.closeness(created_us, decay_days)

    def names(self, author: str) -> bool:
        """Whether the query names ``author`` (every word of the name appears in it)."""
        parts = _WORD.findall(author)
        return bool(parts) and all(part in self.words for part in parts)


@dataclass(frozen=True)
class PoolCues:
    """Per-candidate cues of a candidate pool, aligned with its scores.

    ``created_us`` (epoch microseconds) and ``session`` (any integer code per session)
    may be left out: then no date cue applies and no candidate shares a session's score.
    ``opens``/``closes`` mark blocks with no previous/next turn at all (a session's first
    and last message, and facts), as opposed to a neighbour that is merely not a candidate.
    """

    question: npt.NDArray[np.bool_]
    author_named: npt.NDArray[np.bool_]
    timely: npt.NDArray[np.bool_]  # states a time, and the query asks when
    dated: npt.NDArray[np.float32] | None = None  # near the date the query names
    session: npt.NDArray[np.int64] | None = None
    opens: npt.NDArray[np.bool_] | None = None
    closes: npt.NDArray[np.bool_] | None = None

    @classmethod
    def of(
        cls,
        query: QueryCues,
        texts: list[str],
        authors: list[str | None],
        *,
        created_us: npt.NDArray[np.int64] | None = None,
        session: npt.NDArray[np.int64] | None = None,
        opens: npt.NDArray[np.bool_] | None = None,
        closes: npt.NDArray[np.bool_] | None = None,
        decay_days: float = DATE_DECAY_DAYS,
    ) -> PoolCues:
        """Cues of candidates given by their text, author name, creation time and session."""
        return cls(
            question=np.array([is_question(t) for t in texts], np.bool_),
            author_named=np.array([query.names(author_key(a)) for a in authors], np.bool_),
            timely=np.array([query.asks_when and states_time(t) for t in texts], np.bool_),
            dated=None if created_us is None else query.dated(created_us, decay_days),
            session=session,
            opens=opens,
            closes=closes,
        )
