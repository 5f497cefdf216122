"""Storage: the SQL databases the engine, the saver and the store live in."""

from ._database import Cursor, SqlDatabase, is_database
from ._sqlite import SQLiteDatabase
from ._time import EPOCH, from_us, to_us, to_us_or_none


def open_database(location: str) -> SqlDatabase:
    """A SQLite path / ``:memory:``, or a ``postgresql://`` URL."""
    if location.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresDatabase

        return PostgresDatabase(location)
    return SQLiteDatabase(location)


__all__ = [
    "EPOCH",
    "Cursor",
    "SQLiteDatabase",
    "SqlDatabase",
    "from_us",
    "is_database",
    "open_database",
    "to_us",
    "to_us_or_none",
]
