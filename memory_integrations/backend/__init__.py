"""Backends behind the client: the embedded engine, a Couchbase-compatible server
(``RemoteBackend``) and an SAP Agent Memory service (``SapBackend``), all implementing one
``Backend`` protocol; plus the Couchbase wire codec the HTTP server shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._settings import DEFAULT_PATH, Settings
from ..embedders import Embedder, resolve_embedder
from ..errors import ConfigurationError
from ..storage import database_location
from ._protocol import Backend
from ._remote import RemoteBackend
from ._sap import SapBackend
from ._wire import block_to_wire, iso, session_to_wire, user_to_wire


def resolve_location(path: str | Path | None, url: str | None, settings: Settings) -> str:
    """Where the embedded store lives: ``path`` > ``url`` > env > ./agent-memory.sqlite3."""
    if path is not None and url is not None:
        raise ConfigurationError("pass path= or url=, not both")
    if path is not None:
        return database_location(path)
    target = url or settings.url or DEFAULT_PATH
    if target.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{target!r} is an HTTP server: pass it as base_url=, not url= or path="
        )
    return database_location(target)


def open_embedded(
    path: str | Path | None = None,
    *,
    url: str | None = None,
    embedder: Embedder | str | Any | None = None,
    settings: Settings | None = None,
    clock: Callable[[], float] | None = None,
    extractor: Any = None,
) -> Backend:
    """The embedded engine on a SQLite file, ``:memory:``, or a PostgreSQL database;
    ``extractor`` (or ``settings.extraction_model``) turns on semantic extraction."""
    import time

    from ..engine import Engine
    from ..storage import open_database

    settings = settings or Settings()
    location = resolve_location(path, url, settings)
    chosen = resolve_embedder(embedder if embedder is not None else settings.embedder)
    database = open_database(location)
    try:
        return Engine(
            database,
            embedder=chosen,
            settings=settings,
            clock=clock or time.time,
            extractor=extractor,
        )
    except BaseException:
        database.close()
        raise


__all__ = [
    "Backend",
    "RemoteBackend",
    "SapBackend",
    "block_to_wire",
    "iso",
    "open_embedded",
    "resolve_location",
    "session_to_wire",
    "user_to_wire",
]
