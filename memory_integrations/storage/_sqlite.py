"""SQLite database: one file in WAL mode, shared safely by threads and processes."""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from ..errors import (
    ClientClosedError,
    ConfigurationError,
    ServiceUnavailableError,
    StorageBusyError,
    StorageFullError,
)
from ._database import apply_migrations

log = logging.getLogger("memory_integrations.storage")
_BUSY_TIMEOUT_MS = 10_000
_LOCK_RETRY_SECONDS = 60.0


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteDatabase:
    """One SQLite file (or ``:memory:``) shared safely by threads and processes.

    Writes go through one connection guarded by a re-entrant lock, so a process has one
    writer at a time; they start with ``BEGIN IMMEDIATE`` so two processes never deadlock
    upgrading read locks, and a lock that outlasts the busy timeout is retried with
    jittered backoff before it is surfaced. Reads on a file use a read-only connection per
    thread: in WAL mode they see the last committed state without waiting for a write in
    progress (a long import, another user's large write). A read inside a write
    transaction on the same thread joins it. ``:memory:`` uses the one connection for all.
    """

    dialect: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.location = str(path)
        in_memory = self.location == ":memory:"
        if not in_memory:
            self.location = str(_file_path(Path(self.location).expanduser()))
        self._in_memory = in_memory
        self._lock = threading.RLock()
        self._depth = 0
        self._writer_thread: int | None = None
        self._closed = False
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                self.location,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot open {self.location} as a SQLite memory store ({exc}); pass the path "
                "of a file in a folder you can write to"
            ) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._refuse_foreign_tables()
            if not in_memory:
                self._execute_when_unlocked("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ConfigurationError(
                f"{self.location} is not a SQLite memory store ({exc}); pass the path of a "
                "memory store, or of a new file"
            ) from None

    def _refuse_foreign_tables(self) -> None:
        """Refuse, before changing anything, a file whose tables are named like ours but
        were not created by memory-integrations (no migration record)."""
        names = {
            str(r[0])
            for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        ours = sorted(n for n in names if n.startswith(("mi_", "langgraph_")))
        if ours and "mi_migrations" not in names:
            self._conn.close()
            raise ConfigurationError(
                f"{self.location} belongs to another application: it has tables named like "
                f"memory-integrations' ({', '.join(ours[:3])}) that it did not create. Use "
                "another file for the memory store"
            )

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
            raise ClientClosedError(
                f"the memory store {self.location} is closed; open a new client to use it"
            )

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
            with _typed_errors(self.location):
                self._execute_when_unlocked("BEGIN IMMEDIATE")
                self._depth = 1
                self._writer_thread = threading.get_ident()
                try:
                    yield self._conn.cursor()
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
                else:
                    self._conn.execute("COMMIT")
                finally:
                    self._depth = 0
                    self._writer_thread = None

    @contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        if self._in_memory or self._writer_thread == threading.get_ident():
            with self._lock:  # one connection: the write transaction's, or :memory:'s
                self._check_open()
                if self._depth:
                    yield self._conn.cursor()
                    return
                with _typed_errors(self.location):
                    self._conn.execute("BEGIN")
                    try:
                        yield self._conn.cursor()
                    finally:
                        self._conn.execute("COMMIT")
            return
        self._check_open()
        conn = self._reader()
        if conn.in_transaction:  # a read inside a read on this thread: same snapshot
            yield conn.cursor()
            return
        # A deferred transaction gives one consistent snapshot for multi-query reads.
        with _typed_errors(self.location):
            conn.execute("BEGIN")
            try:
                yield conn.cursor()
            finally:
                conn.execute("COMMIT")

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.location,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,  # closed by close(), from any thread
            )
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = 1")
            with self._readers_lock:
                if self._closed:
                    conn.close()
                    self._check_open()
                self._readers.append(conn)
            self._local.conn = conn
        return conn

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
                with self._readers_lock:
                    self._closed = True
                    for reader in self._readers:
                        reader.close()
                    self._readers.clear()
                self._conn.close()


def has_pending_blocks(path: Path, max_attempts: int) -> bool:
    """Whether a SQLite store file holds blocks still to embed (opened read-only, with no
    engine: a server resumes such stores at start)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        ) as db:
            row = db.execute(
                "SELECT 1 FROM mi_blocks WHERE status = 'processing' AND fail_count < ? LIMIT 1",
                (max_attempts,),
            ).fetchone()
    except sqlite3.Error as exc:
        if "no such table" not in str(exc):
            log.warning("cannot check %s for blocks to resume: %s", path.name, exc)
        return False
    return row is not None


def _file_path(path: Path) -> Path:
    """``path`` checked to be usable as a database file; its folder is created if missing."""
    if path.is_dir():
        raise ConfigurationError(
            f"{path} is a folder; pass a file path such as {path / 'agent-memory.sqlite3'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the folder {path.parent} for the memory store ({exc.strerror}); "
            "pass a path in a folder you can write to"
        ) from None
    return path


@contextmanager
def _typed_errors(location: str) -> Iterator[None]:
    """SQLite failures other than lock contention, as the package's typed errors."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "full" in text:
            raise StorageFullError(
                f"the disk under {location} is full; free space, then retry"
            ) from exc
        if "readonly" in text or "read-only" in text:
            raise ConfigurationError(
                f"{location} is read-only; open a store you can write to"
            ) from exc
        if "disk i/o" in text:
            raise ServiceUnavailableError(
                f"reading or writing {location} failed ({exc}); retry, and check the disk",
                service="database",
                retry_after=1.0,
            ) from exc
        raise
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
            raise
        raise ServiceUnavailableError(
            f"{location} could not be read ({exc}); it may be damaged: check it with "
            "`sqlite3 <file> 'PRAGMA integrity_check'` and restore a backup",
            service="database",
        ) from exc


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
