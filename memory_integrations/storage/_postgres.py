"""PostgreSQL database (psycopg 3, pooled) implementing the shared SqlDatabase protocol."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal

from ..errors import (
    AgentMemoryError,
    ClientClosedError,
    ConfigurationError,
    ServiceUnavailableError,
    StorageBusyError,
)
from ._database import apply_migrations, redact

# A fixed key for pg_advisory_xact_lock: migrations from several processes run one at a time.
_MIGRATION_LOCK = 0x6D656D6F7279

# SQLSTATEs (and classes) that mean "the server is not there right now": connection
# exceptions, and the server shutting down or starting up.
_UNREACHABLE = ("08", "57P01", "57P02", "57P03")
_RETRY_AFTER = 5.0
_LOGIN_REFUSED = re.compile(
    r"password authentication failed|no password supplied|role \"[^\"]*\" does not exist|"
    r"no pg_hba\.conf entry"
)
_NO_DATABASE = re.compile(r"database \"[^\"]*\" does not exist")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def connection_error(exc: BaseException, location: str) -> AgentMemoryError | None:
    """Our typed error for a psycopg failure to reach or log in to PostgreSQL, else None.

    Unreachable is a ``ServiceUnavailableError`` (retry); wrong credentials, an unknown
    database or a missing pgvector are ``ConfigurationError`` (fix the URL or the server).
    """
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return ServiceUnavailableError(
            f"no PostgreSQL connection to {location} became free or could be opened in time "
            f"({_first_line(exc)}); check that the server is up, or raise the pool size",
            service="database",
            retry_after=_RETRY_AFTER,
        )
    if not isinstance(exc, psycopg.OperationalError):
        return None
    state = exc.sqlstate or ""
    text = str(exc)
    # libpq reports login failures without a SQLSTATE: recognise its FATAL lines.
    if _LOGIN_REFUSED.search(text):
        state = "28000"
    elif _NO_DATABASE.search(text):
        state = "3D000"
    if state.startswith("28"):
        return ConfigurationError(
            f"PostgreSQL at {location} refused the login ({_first_line(exc)}); check the user "
            "name and password in the URL"
        )
    if state == "3D000":
        found = _NO_DATABASE.search(text)
        reason = found.group(0) if found else _first_line(exc)
        return ConfigurationError(
            f"PostgreSQL at {location}: {reason}; create it first (createdb NAME) or fix "
            "the database name in the URL"
        )
    if not state or state.startswith(_UNREACHABLE):
        return ServiceUnavailableError(
            f"cannot reach PostgreSQL at {location}, or it dropped the connection "
            f"({_first_line(exc)}); check that the server is running and the URL's host and "
            "port, then retry",
            service="database",
            retry_after=_RETRY_AFTER,
        )
    return None


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
        with self._typed_errors(), psycopg.connect(url, autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.errors.FeatureNotSupported as exc:
                raise ConfigurationError(
                    f"PostgreSQL at {self.location} has no pgvector ({_first_line(exc)}); "
                    "install the extension on the server (e.g. the pgvector package for "
                    "your PostgreSQL version) or use a SQLite file"
                ) from None
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ConfigurationError(
                    f"PostgreSQL at {self.location}: this user may not enable pgvector "
                    f"({_first_line(exc)}); run CREATE EXTENSION vector once as a superuser "
                    "in this database"
                ) from None

        def configure(conn: Any) -> None:
            register_vector(conn)

        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            configure=configure,
            open=True,
            kwargs={"autocommit": True},  # transactions are explicit: conn.transaction()
            # A connection the server dropped (restart, idle timeout, failover) is replaced
            # on checkout instead of failing the next call.
            check=ConnectionPool.check_connection,
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
        with self._typed_errors(), self._pool.connection() as conn:
            self._local.conn = conn
            try:
                yield conn, False
            finally:
                self._local.conn = None

    @contextmanager
    def _typed_errors(self) -> Iterator[None]:
        """A lost or refused connection surfaces as one of our typed errors."""
        try:
            yield
        except AgentMemoryError:
            raise
        except Exception as exc:
            typed = connection_error(exc, self.location)
            if typed is None:
                raise
            raise typed from None

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
