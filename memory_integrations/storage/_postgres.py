"""PostgreSQL database (psycopg 3, pooled) implementing the shared SqlDatabase protocol."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal

from ..errors import ClientClosedError, StorageBusyError
from ._database import apply_migrations, redact

# A fixed key for pg_advisory_xact_lock: migrations from several processes run one at a time.
_MIGRATION_LOCK = 0x6D656D6F7279


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Rewrite our portable SQL (``?`` and ``:name`` parameters) into psycopg's style."""
    sql = sql.replace("%", "%%")
    sql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)
    return sql.replace("?", "%s")


class _Cursor:
    """A psycopg cursor that accepts the portable parameter style."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def execute(self, sql: str, params: Any = None, /) -> _Cursor:
        self._inner.execute(translate(sql), params)
        return self

    def executemany(self, sql: str, params: Any, /) -> _Cursor:
        self._inner.executemany(translate(sql), params)
        return self

    def fetchone(self) -> Any:
        return self._inner.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._inner.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._inner.rowcount)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._inner)


class PostgresDatabase:
    """A PostgreSQL database with pgvector, shared by many processes and machines.

    Connections come from a ``psycopg_pool.ConnectionPool``; each transaction runs on one
    pooled connection. Serialisation failures and lock timeouts are retried by the caller's
    transaction loop before they surface as ``StorageBusyError``.
    """

    dialect: Literal["sqlite", "postgres"] = "postgres"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        try:
            import psycopg
            from pgvector.psycopg import register_vector
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError(
                'PostgreSQL storage needs: pip install "memory-integrations[postgres]"'
            ) from exc
        self.location = redact(url)
        self._psycopg = psycopg
        self._register_vector = register_vector
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

        def configure(conn: Any) -> None:
            register_vector(conn)

        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            configure=configure,
            open=True,
            kwargs={"autocommit": True},  # transactions are explicit: conn.transaction()
        )
        self._local = threading.local()
        self._closed = False

    @contextmanager
    def _connection(self) -> Iterator[tuple[Any, bool]]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # nested: join the outer transaction
            yield conn, True
            return
        if self._closed:
            raise ClientClosedError(
                f"the memory store {self.location} is closed; open a new client to use it"
            )
        with self._pool.connection() as conn:
            self._local.conn = conn
            try:
                yield conn, False
            finally:
                self._local.conn = None

    @contextmanager
    def _busy_as_error(self) -> Iterator[None]:
        """A lock timeout surfaces as ``StorageBusyError``, for reads and writes alike."""
        try:
            yield
        except self._psycopg.errors.LockNotAvailable as exc:
            raise StorageBusyError(f"the database {self.location} is busy: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[_Cursor]:
        with self._connection() as (conn, nested):
            if nested:
                yield _Cursor(conn.cursor())
                return
            with self._busy_as_error(), conn.transaction():
                yield _Cursor(conn.cursor())

    @contextmanager
    def read(self) -> Iterator[_Cursor]:
        # Under READ COMMITTED every statement takes its own snapshot even inside a
        # transaction, so an explicit BEGIN/COMMIT would only add two round trips.
        with self._connection() as (conn, _nested), self._busy_as_error():
            yield _Cursor(conn.cursor())

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        with self.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            # raw execution: scripts may contain literal % and ?
            return apply_migrations(cur, self.location, component, migrations, cur._inner.execute)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.close()
