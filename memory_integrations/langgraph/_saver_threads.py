"""Whole-thread operations of the checkpointer: ownership, delete, copy, prune and sweep.

A mixin of :class:`~memory_integrations.langgraph.AgentMemorySaver`, kept apart so each
module has one job; it works on the saver's database and statements.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import ValidationError
from ..storage import Cursor, SqlDatabase
from ..validation import check_id
from ._saver_checks import _check_saver_text, _new_generation
from ._saver_sql import _CHECKPOINTS, _CHUNK, _THREADS, _Dialect, _Statements
from ._saver_values import ValueCache, _bytes

if TYPE_CHECKING:
    from langgraph.checkpoint.serde.base import SerializerProtocol

_SWEEP_BATCH = 200  # threads purged per sweep transaction


class ThreadMaintenance:
    """Operations on whole threads (see the module docstring)."""

    db: SqlDatabase
    serde: SerializerProtocol
    ttl: float | None
    _clock: Callable[[], float]
    _dialect: _Dialect
    _sql: _Statements
    _values: ValueCache

    def _purge(self, cur: Cursor, thread_id: str) -> None:
        cur.execute(self._sql.delete_thread_writes, (thread_id,))
        cur.execute(self._sql.delete_thread_blobs, (thread_id,))
        cur.execute(self._sql.delete_thread_checkpoints, (thread_id,))
        cur.execute(self._sql.delete_thread_row, (thread_id,))
        self._values.forget_thread(thread_id)

    def threads_owned_by(self, user_id: str) -> builtins.list[str]:
        """Threads that belong to ``user_id``: created by a run with that ``user_id``
        (recorded on the thread), or, for threads written before owners were recorded,
        whose checkpoints all name that ``user_id`` in their metadata."""
        check_id(user_id, "user_id")
        predicate, params = self._dialect.metadata_predicate("user_id", user_id) or ("", [])
        with self.db.read() as cur:
            owned = {
                str(r[0])
                for r in cur.execute(
                    f"SELECT thread_id FROM {_THREADS} WHERE owner = ?", (user_id,)
                ).fetchall()
            }
            legacy = [
                str(r[0])
                for r in cur.execute(
                    f"SELECT DISTINCT c.thread_id FROM {_CHECKPOINTS} c LEFT JOIN {_THREADS} t "
                    f"ON t.thread_id = c.thread_id WHERE t.owner IS NULL AND {predicate}",
                    params,
                ).fetchall()
            ]
            for thread_id in legacy:
                named = {
                    json.loads(md).get("user_id")
                    for (md,) in cur.execute(
                        f"SELECT metadata FROM {_CHECKPOINTS} WHERE thread_id = ?", (thread_id,)
                    ).fetchall()
                }
                if named - {None} == {user_id}:
                    owned.add(thread_id)
        return sorted(owned)

    def existing_threads(self, thread_ids: Sequence[str]) -> builtins.list[str]:
        """Those of ``thread_ids`` that have checkpoints."""
        found: set[str] = set()
        ids = sorted({str(t) for t in thread_ids})
        with self.db.read() as cur:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                found.update(
                    str(r[0])
                    for r in cur.execute(
                        f"SELECT DISTINCT thread_id FROM {_CHECKPOINTS} "
                        f"WHERE thread_id IN ({marks})",
                        chunk,
                    ).fetchall()
                )
        return sorted(found)

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in all namespaces."""
        thread_id = _check_saver_text(thread_id, "thread_id")
        with self.db.transaction() as cur:
            self._purge(cur, thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata ``run_id`` is listed."""
        ids = sorted({str(r) for r in run_ids})
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            scopes_sql, writes_sql, checkpoints_sql = self._sql.run_ids(len(chunk))
            with self.db.transaction() as cur:
                scopes = cur.execute(scopes_sql, chunk).fetchall()
                if not scopes:
                    continue
                cur.execute(writes_sql, chunk)
                cur.execute(checkpoints_sql, chunk)
                for thread_id, ns in scopes:
                    self._collect_blobs(cur, thread_id, ns)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints, blobs and writes of one thread to another (merging)."""
        source = _check_saver_text(source_thread_id, "source_thread_id")
        target = _check_saver_text(target_thread_id, "target_thread_id")
        if source == target:
            return
        with self.db.transaction() as cur:
            now = self._clock()
            src = cur.execute(self._sql.thread_state, (source,)).fetchone()
            if src is not None and src[0] is not None and src[0] <= now:
                return  # an expired source no longer exists
            if not cur.execute(self._sql.count_checkpoints, (source,)).fetchone()[0]:
                return
            row = cur.execute(self._sql.thread_state, (target,)).fetchone()
            if row is not None and row[0] is not None and row[0] <= now:
                self._purge(cur, target)
                row = None
            cur.execute(self._sql.copy_checkpoints, (target, source))
            cur.execute(self._sql.copy_blobs, (target, source))
            cur.execute(self._sql.copy_writes, (target, source))
            ttl = self.ttl if self.ttl is not None else (src[1] if src is not None else None)
            expires = now + ttl if ttl is not None else None
            generation = row[3] if row is not None else _new_generation()
            owner = src[4] if src is not None else None
            cur.execute(self._sql.touch_thread, (target, now, ttl, expires, generation, owner))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: keep each namespace's latest checkpoint; ``"delete"``: all.

        Raises ``ValueError`` for ``keep_latest`` on a thread whose latest checkpoint tracks
        ``DeltaChannel`` counters, since dropping its ancestors would lose channel state.
        """
        if strategy not in ("keep_latest", "delete"):
            raise ValidationError(
                f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'"
            )
        for thread_id in dict.fromkeys(str(t) for t in thread_ids):
            with self.db.transaction() as cur:
                row = cur.execute(self._sql.thread_state, (thread_id,)).fetchone()
                expired = row is not None and row[0] is not None and row[0] <= self._clock()
                if strategy == "delete" or expired:
                    self._purge(cur, thread_id)
                    continue
                latest = cur.execute(self._sql.latest_per_ns, (thread_id,)).fetchall()
                for ns, md_json in latest:
                    if json.loads(md_json).get("counters_since_delta_snapshot"):
                        raise ValidationError(
                            f"thread {thread_id!r} (namespace {ns!r}) uses DeltaChannel state; "
                            "keep_latest would drop the history it is rebuilt from. Use "
                            "strategy='delete' or leave this thread unpruned."
                        )
                cur.execute(self._sql.delete_older, (thread_id,))
                cur.execute(self._sql.delete_orphan_writes, (thread_id,))
                for ns, _ in latest:
                    self._collect_blobs(cur, thread_id, ns)

    def _collect_blobs(self, cur: Cursor, thread_id: str, ns: str) -> None:
        """Delete the blob rows of one namespace no checkpoint (or delta) still needs."""
        needed: list[tuple[str, str]] = []
        for type_, data in cur.execute(self._sql.ns_checkpoints, (thread_id, ns)).fetchall():
            checkpoint = self.serde.loads_typed((type_, _bytes(data)))
            for channel, version in (checkpoint.get("channel_versions") or {}).items():
                needed.append((channel, str(version)))
        bases = {
            (channel, version): base
            for channel, version, base in cur.execute(
                self._sql.ns_blob_keys, (thread_id, ns)
            ).fetchall()
        }
        keep: set[tuple[str, str]] = set()
        while needed:
            key = needed.pop()
            if key in keep or key not in bases:
                continue
            keep.add(key)
            if (base := bases[key]) is not None:
                needed.append((key[0], base))
        stale = [(thread_id, ns, ch, v) for ch, v in bases if (ch, v) not in keep]
        if stale:
            cur.executemany(self._sql.delete_blob, stale)

    def sweep_expired(self) -> int:
        """Delete every expired thread now; return how many were removed."""
        removed = 0
        while True:
            with self.db.transaction() as cur:
                rows = cur.execute(self._sql.expired_threads, (self._clock(), _SWEEP_BATCH))
                batch = [r[0] for r in rows.fetchall()]
                for thread_id in batch:
                    self._purge(cur, thread_id)
            removed += len(batch)
            if len(batch) < _SWEEP_BATCH:
                return removed
