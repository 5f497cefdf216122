"""Storage: the SQL databases the engine, the saver and the store live in."""

from ._database import Cursor, SqlDatabase
from ._sqlite import SQLiteDatabase

__all__ = ["Cursor", "SQLiteDatabase", "SqlDatabase"]
