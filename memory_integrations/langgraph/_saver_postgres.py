"""The checkpointer's PostgreSQL write path: each ``put`` / ``put_writes`` is one statement.

A mixin of :class:`~memory_integrations.langgraph.AgentMemorySaver`. On PostgreSQL every
round trip counts, so a write opens its thread inside the statement with data-modifying
CTEs instead of reading it first (see :meth:`PostgresWrites._pg_write`).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..storage import Cursor, SqlDatabase
from ._saver_checks import _new_generation
from ._saver_sql import _ROWS_PER_INSERT, _Statements
from ._saver_values import ValueCache, _BlobWrite

_PG_MAX_PARAMS = 30_000  # larger PostgreSQL writes take the multi-statement path


class PostgresWrites:
    """One-statement writes on PostgreSQL (see the module docstring)."""

    db: SqlDatabase
    ttl: float | None
    _clock: Callable[[], float]
    _postgres: bool
    _sql: _Statements
    _values: ValueCache

    def _needs_touch(self, now: float, last_access: float, ttl_seconds: float | None) -> bool:
        """Whether a write at ``now`` moves the thread's clock (as ``_open_thread``)."""
        if self.ttl is not None and self.ttl != ttl_seconds:
            return True
        step = min(1.0, ttl_seconds / 100) if ttl_seconds else 1.0
        return now - last_access >= step

    @contextlib.contextmanager
    def _autocommit(self) -> Iterator[Cursor | None]:
        """On PostgreSQL, a cursor whose every statement commits on its own, or joins a
        transaction the caller already opened on this thread (the ``SqlDatabase.read``
        contract); None on SQLite.

        One statement on it is one round trip, against three for ``db.transaction()``
        (BEGIN, the statement, COMMIT).
        """
        if not self._postgres:
            yield None
            return
        with self.db.read() as cur:
            yield cur

    def _pg_write(
        self,
        thread_id: str,
        owner: str | None,
        parts: Sequence[tuple[str, Sequence[Any]]],
        result: str,
    ) -> tuple[Any, ...] | None:
        """One PostgreSQL statement that opens ``thread_id`` and runs ``parts`` (named
        data-modifying CTEs): a single round trip per write. Returns the thread's
        generation followed by the ``result`` expressions, or None if the write must be
        done in a ``db.transaction()`` instead (no autocommit cursor, too many parameters,
        or the thread had expired).

        The thread is not read first: the statement creates it if missing and moves its
        clock if it is live, unless this process wrote to it less than a clock step ago
        (``ValueCache`` thread hints); in every case the ``state`` CTE returns the thread row as
        the statement found it, and what the hint skipped is done by a second statement
        if that row shows it was needed (another process deleted the thread or changed
        its TTL). If the thread had expired, the statement still wrote (into the expired
        thread, which no read sees); the caller then writes again in a transaction whose
        ``_open_thread`` purges the thread first, as it would have without this path.
        """
        from psycopg.types.numeric import Int8

        now = self._clock()
        expires_at = now + self.ttl if self.ttl is not None else None
        ctes: builtins.list[tuple[str, Sequence[Any]]] = [(self._sql.pg_thread_state, (thread_id,))]
        hint = self._values.thread_hint(thread_id)
        opens = hint is None or self._needs_touch(now, *hint)
        generation = _new_generation()
        if opens:
            new_thread = (thread_id, now, self.ttl, expires_at, generation, owner)
            ctes.append((self._sql.pg_new_thread, new_thread))
            if self.ttl is None:
                ctes.append((self._sql.pg_touch_keep_ttl, (now, now, thread_id, now, now)))
            else:
                touch = (now, self.ttl, expires_at, thread_id, now, self.ttl, now)
                ctes.append((self._sql.pg_touch_set_ttl, touch))
        ctes += parts
        # Every int as bigint: psycopg types an int parameter by its size, and each
        # combination of types is prepared (and planned) as a statement of its own.
        params = [Int8(v) if type(v) is int else v for _, values in ctes for v in values]
        if len(params) > _PG_MAX_PARAMS:
            return None
        sql = (
            f"WITH {', '.join(text for text, _ in ctes)} SELECT s.*, {result} FROM "
            "(SELECT COUNT(*), MAX(expires_at), MAX(ttl_seconds), MAX(last_access), "
            "MAX(COALESCE(generation, '')) FROM state) s"
        )
        with self._autocommit() as cur:
            if cur is None:
                return None
            row = cur.execute(sql, params).fetchone()
            found, old_expires, old_ttl, old_access, old_generation = row[:5]
            if found and old_expires is not None and old_expires <= now:
                self._values.forget_thread(thread_id)  # expired: purged by the caller's retry
                return None
            stored_ttl = self.ttl if self.ttl is not None or not found else old_ttl
            if found and not self._needs_touch(now, old_access, old_ttl):
                hint = (old_access, old_ttl)  # nothing to move
            else:
                if not opens:  # the thread vanished or changed under the hint
                    missed = (thread_id, now, self.ttl, expires_at, generation, owner)
                    cur.execute(self._sql.touch_thread, missed)
                hint = (now, stored_ttl)
        self._values.set_thread_hint(thread_id, hint)
        return (old_generation if found else generation, *row[5:])

    def _pg_store_checkpoint(
        self,
        thread_id: str,
        owner: str | None,
        row: tuple[Any, ...],
        blobs: builtins.list[_BlobWrite],
    ) -> tuple[str, bool] | None:
        """``_store_checkpoint`` as one PostgreSQL statement: whole blob rows, delta rows
        (each only if its base matches), then the checkpoint, only if every delta row was
        written (counted from their RETURNING rows: a CTE cannot see another's rows). The
        thread's generation and True if the checkpoint was stored, False if a delta base
        changed (nothing visible was written); None if the thread had expired or the fast
        path is unavailable."""
        parts: builtins.list[tuple[str, Sequence[Any]]] = []
        whole = [b.row for b in blobs if b.base is None]
        deltas = [b for b in blobs if b.base is not None]
        for i, start in enumerate(range(0, len(whole), _ROWS_PER_INSERT)):
            chunk = whole[start : start + _ROWS_PER_INSERT]
            sql = self._sql.insert_blobs(len(chunk))
            parts.append((f"b{i} AS ({sql})", [v for r in chunk for v in r]))
        for i, blob in enumerate(deltas):
            assert blob.base is not None and blob.tail is not None
            params = (
                *(blob.version, blob.tail.depth, blob.tail.checksum, *blob.row[7:]),
                *(thread_id, blob.row[1], blob.channel),
                *(blob.base.version, blob.base.depth, blob.base.checksum),
            )
            parts.append((f"d{i} AS ({self._sql.delta_blob} RETURNING 1)", params))
        if deltas:
            written = " + ".join(f"(SELECT COUNT(*) FROM d{i})" for i in range(len(deltas)))
            checkpoint = self._sql.checkpoint_if(f"{written} = {len(deltas)}")
        else:
            checkpoint = self._sql.upsert_checkpoint
        parts.append((f"cp AS ({checkpoint} RETURNING 1)", row))
        result = self._pg_write(thread_id, owner, parts, "(SELECT COUNT(*) FROM cp)")
        return None if result is None else (str(result[0]), bool(result[1]))
