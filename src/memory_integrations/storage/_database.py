"""The SQL database protocol shared by the engine, the LangGraph saver and the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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

    def read(self) -> AbstractContextManager[Cursor]: ...

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        """Apply the not-yet-applied scripts of ``component`` in order; return its version."""
        ...

    def close(self) -> None: ...
