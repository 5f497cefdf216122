"""The SQL database protocol shared by the engine, the LangGraph saver and the store."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol


class Cursor(Protocol):
    """The DB-API cursor subset we use (sqlite3 and psycopg cursors both fit)."""

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlDatabase(Protocol):
    """A transactional SQL database that components share.

    ``transaction()`` is a serialised write transaction (committed on exit, rolled back on
    error, retried internally on lock contention before it starts); ``read()`` gives a
    consistent snapshot for reads. Components keep their own tables and register ordered
    migrations under their own name.
    """

    dialect: Literal["sqlite", "postgres"]
    location: str

    def transaction(self) -> AbstractContextManager[Cursor]: ...

    def read(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads. Inside ``transaction()`` on the same thread it joins that
        transaction; otherwise, on PostgreSQL, every statement commits on its own
        (autocommit), so a single-statement write is atomic and one round trip."""
        ...

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        """Apply the not-yet-applied scripts of ``component`` in order; return its version."""
        ...

    def close(self) -> None: ...


def redact(url: str) -> str:
    """``url`` with its password (in the user info or a ``password=`` parameter) as ``***``."""
    url = re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)


def is_database(obj: object) -> bool:
    """Whether ``obj`` is a :class:`SqlDatabase` (a client is not: it *has* one)."""
    # Static lookup, so a client's ``database`` property is not evaluated here.
    for attr in ("dialect", "transaction", "read", "migrate"):
        try:
            inspect.getattr_static(obj, attr)
        except AttributeError:
            return False
    return True


MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS mi_migrations (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""


def apply_migrations(
    cur: Cursor,
    location: str,
    component: str,
    migrations: Sequence[str],
    run_script: Callable[[str], None],
) -> int:
    """Bring ``component`` to ``len(migrations)`` inside the caller's transaction."""
    from ..errors import ConfigurationError

    cur.execute(MIGRATIONS_TABLE)
    row = cur.execute(
        "SELECT version FROM mi_migrations WHERE component = ?", (component,)
    ).fetchone()
    current = row[0] if row else 0
    if current > len(migrations):
        raise ConfigurationError(
            f"{location} has {component} schema version {current}, newer than this "
            f"memory-integrations supports ({len(migrations)}); upgrade the package"
        )
    try:
        for script in migrations[current:]:
            if script.strip():  # a step of the other dialect only: nothing to run here
                run_script(script)
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
        raise ConfigurationError(
            f"{location} already has tables named like the ones memory-integrations creates "
            f"for {component} ({str(exc).splitlines()[0]}), but no record of creating them: "
            "they belong to another application. Use another database file or schema"
        ) from None
    cur.execute(
        "INSERT INTO mi_migrations (component, version) VALUES (?, ?) "
        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
        (component, len(migrations)),
    )
    return len(migrations)
