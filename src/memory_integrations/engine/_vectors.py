"""Per-user vector matrices kept in memory for exact search.

Each user's ready vectors live in one contiguous float32 matrix, loaded from storage on
first use and kept current incrementally: appends are fetched by index version, any other
change (delete, re-embed, TTL change) reloads the user. Users never share a matrix, so one
user's size does not slow another's search.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

G = TypeVar("G", bound=np.generic)


@dataclass
class UserVectors:
    dim: int
    version: int = 0
    matrix: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    seqs: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    sessions: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    expires: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    session_codes: dict[str, int] = field(default_factory=dict)
    size: int = 0

    def __post_init__(self) -> None:
        self.matrix = np.zeros((0, self.dim), np.float32)

    def append(self, rows: list[tuple[int, str, int | None, bytes]]) -> None:
        if not rows:
            return
        n = len(rows)
        needed = self.size + n
        if needed > self.matrix.shape[0]:
            capacity = max(needed, int(self.matrix.shape[0] * 1.5) + 64)
            self.matrix = _grow(self.matrix, capacity)
            self.seqs = _grow(self.seqs, capacity)
            self.sessions = _grow(self.sessions, capacity)
            self.expires = _grow(self.expires, capacity)
        block = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32)
        self.matrix[self.size : needed] = block.reshape(n, self.dim)
        self.seqs[self.size : needed] = [r[0] for r in rows]
        self.sessions[self.size : needed] = [self._code(r[1]) for r in rows]
        self.expires[self.size : needed] = [r[2] if r[2] is not None else -1 for r in rows]
        self.size = needed

    def _code(self, session_id: str) -> int:
        code = self.session_codes.get(session_id)
        if code is None:
            code = self.session_codes[session_id] = len(self.session_codes)
        return code

    def scores(
        self,
        query: npt.NDArray[np.float32],
        now: int,
        session_ids: list[str] | None,
        allowed_seqs: npt.NDArray[np.int64] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Cosine similarity of every visible vector: (seqs, scores)."""
        n = self.size
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        mask: npt.NDArray[np.bool_] | None = None
        expires = self.expires[:n]
        live = (expires < 0) | (expires > now)
        if not live.all():
            mask = live
        if session_ids is not None:
            codes = [self.session_codes[s] for s in session_ids if s in self.session_codes]
            in_scope = np.isin(self.sessions[:n], codes)
            mask = in_scope if mask is None else mask & in_scope
        if allowed_seqs is not None:
            allowed = np.isin(self.seqs[:n], allowed_seqs, assume_unique=True)
            mask = allowed if mask is None else mask & allowed
        # Score everything, then select: a masked copy of the matrix would cost more.
        scores = self.matrix[:n] @ query
        if mask is None:
            return self.seqs[:n], scores
        idx = np.flatnonzero(mask)
        return self.seqs[idx], scores[idx]


def _grow(array: npt.NDArray[G], capacity: int) -> npt.NDArray[G]:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


class VectorCache:
    """LRU of :class:`UserVectors`, bounded by the number of vectors held."""

    def __init__(self, dim: int, max_vectors: int = 5_000_000) -> None:
        self.dim = dim
        self.max_vectors = max_vectors
        self._users: OrderedDict[str, UserVectors] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock_for(self, user_id: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(user_id)
            if lock is None:
                lock = self._locks[user_id] = threading.Lock()
            return lock

    def get(self, user_id: str) -> UserVectors | None:
        with self._guard:
            entry = self._users.get(user_id)
            if entry is not None:
                self._users.move_to_end(user_id)
            return entry

    def put(self, user_id: str, entry: UserVectors) -> None:
        with self._guard:
            self._users[user_id] = entry
            self._users.move_to_end(user_id)
            total = sum(e.size for e in self._users.values())
            while total > self.max_vectors and len(self._users) > 1:
                _, evicted = self._users.popitem(last=False)
                total -= evicted.size

    def drop(self, user_id: str | None = None) -> None:
        with self._guard:
            if user_id is None:
                self._users.clear()
            else:
                self._users.pop(user_id, None)
