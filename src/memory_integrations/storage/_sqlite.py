"""SQLite database: one file in WAL mode, shared safely by threads and processes."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from ..errors import StorageBusyError
from ._database import apply_migrations

_BUSY_TIMEOUT_MS = 10_000
_LOCK_RETRY_SECONDS = 60.0


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteDatabase:
    """One SQLite file (or ``:memory:``) behind a single serialised connection per process.

    A single connection guarded by a re-entrant lock keeps thread safety simple; WAL mode
    and a busy timeout let several processes share the file. Write transactions start with
    ``BEGIN IMMEDIATE`` so two processes never deadlock upgrading read locks, and a lock
    that outlasts the busy timeout is retried with jittered backoff before it is surfaced.
    """

    dialect: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.location = str(path)
        in_memory = self.location == ":memory:"
        if not in_memory:
            Path(self.location).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.location = str(Path(self.location).expanduser())
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.location,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
        )
        self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if not in_memory:
            self._execute_when_unlocked("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._depth = 0
        self._closed = False

    def _execute_when_unlocked(self, statement: str) -> None:
        """Run ``statement``, retrying with jittered backoff while another process holds the
        lock (beyond the busy timeout), for up to ``_LOCK_RETRY_SECONDS``."""
        deadline = time.monotonic() + _LOCK_RETRY_SECONDS
        delay = 0.01
        while True:
            try:
                self._conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() > deadline:
                    raise StorageBusyError(
                        f"the database file {self.location} stayed locked by another "
                        f"writer for {_LOCK_RETRY_SECONDS:.0f}s; retry later"
                    ) from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the database is closed; create a new client")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            self._check_open()
            if self._depth:  # nested: join the outer transaction
                self._depth += 1
                try:
                    yield self._conn.cursor()
                finally:
                    self._depth -= 1
                return
            self._execute_when_unlocked("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn.cursor()
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            self._check_open()
            if self._depth:
                yield self._conn.cursor()
                return
            # A deferred transaction gives one consistent snapshot for multi-query reads.
            self._conn.execute("BEGIN")
            try:
                yield self._conn.cursor()
            finally:
                self._conn.execute("COMMIT")

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        with self.transaction() as cur:

            def run_script(script: str) -> None:
                for statement in _split_sql(script):
                    cur.execute(statement)

            return apply_migrations(cur, self.location, component, migrations, run_script)

    def integrity_check(self) -> str:
        with self.read() as cur:
            return str(cur.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
