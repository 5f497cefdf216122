"""Storage: the SQL databases the engine, the saver and the store live in."""

import os
from pathlib import Path
from typing import cast

from ..errors import ConfigurationError
from ._database import Cursor, SqlDatabase, is_database, redact
from ._dialect import DIALECT_TYPES, Migration, chunks, placeholders, render, render_migrations
from ._engine_store import EngineStore, dumps
from ._pg_search import HnswParameters, PostgresSearch
from ._query import BlockQuery, BlockRow, TenantQuery
from ._sqlite import SQLiteDatabase, has_pending_blocks
from ._time import EPOCH, from_us, to_us, to_us_or_none


def database_location(target: object) -> str:
    """A SQLite path (from a path, ``sqlite:///path`` or ``:memory:``) or a PostgreSQL URL;
    anything else is refused with the accepted forms."""
    if isinstance(target, os.PathLike) and not isinstance(target, bytes):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise ConfigurationError(
            "a memory store location is a str or pathlib.Path (a SQLite path, sqlite:///path, "
            f":memory:, or a postgresql:// URL), got {type(target).__name__}"
        )
    if not target.strip() or "\x00" in target:
        raise ConfigurationError(
            f"{target!r} is not a usable location: pass a file path such as memory.sqlite3"
        )
    try:
        target.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(
            f"the location {target!r} holds a lone surrogate; pass a valid path"
        ) from None
    if target.startswith(("postgresql://", "postgres://")):
        return target
    if target.startswith("sqlite:///"):
        return target[len("sqlite:///") :] or ":memory:"
    if target.startswith("sqlite://"):
        raise ConfigurationError(
            f"{target!r}: write SQLite URLs as sqlite:///relative.db or sqlite:////abs/path.db"
        )
    if target.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{redact(target)!r} is an HTTP server, not a database: pass it to "
            "AgentMemoryClient(base_url=...)"
        )
    if "://" in target:
        raise ConfigurationError(
            f"unsupported storage URL {redact(target)!r}: use a file path, sqlite:///path, "
            ":memory:, or postgresql://user:password@host/database"
        )
    return target


def open_database(location: object) -> SqlDatabase:
    """A SQLite path / ``sqlite:///`` URL / ``:memory:``, or a ``postgresql://`` URL."""
    location = database_location(location)
    if location.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresDatabase

        return PostgresDatabase(location)
    return SQLiteDatabase(location)


DATABASE_SOURCES = (
    "an AgentMemoryClient or AsyncAgentMemoryClient, a SQLite path or postgresql:// URL, "
    "or a SqlDatabase"
)
"""What a component that needs the SQL database itself (saver, store) is built on."""


def database_of(source: object, what: str) -> tuple[SqlDatabase, bool]:
    """The database behind ``source``, and whether it was opened here (then the caller
    closes it): a client with an embedded backend, a ``SqlDatabase``, or a SQLite path /
    ``postgresql://`` URL."""
    if isinstance(source, (str, Path)):
        return open_database(source), True
    if is_database(source):
        return cast(SqlDatabase, source), False
    if hasattr(type(source), "database"):  # a client: ConfigurationError when remote
        return cast(SqlDatabase, source.database), False  # type: ignore[attr-defined]
    raise ConfigurationError(f"{what} takes {DATABASE_SOURCES}; got {type(source).__name__}")


__all__ = [
    "DATABASE_SOURCES",
    "DIALECT_TYPES",
    "EPOCH",
    "BlockQuery",
    "BlockRow",
    "Cursor",
    "EngineStore",
    "HnswParameters",
    "Migration",
    "PostgresSearch",
    "SQLiteDatabase",
    "SqlDatabase",
    "TenantQuery",
    "chunks",
    "database_location",
    "database_of",
    "dumps",
    "from_us",
    "has_pending_blocks",
    "is_database",
    "open_database",
    "placeholders",
    "redact",
    "render",
    "render_migrations",
    "to_us",
    "to_us_or_none",
]
