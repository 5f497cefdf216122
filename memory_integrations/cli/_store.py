"""Opening the store a command names: a SQLite file, a PostgreSQL URL or a server URL.

Commands that only read (``export``, ``users``, ``sessions``, ``blocks``, ``search``) and
commands that change an existing store (``erase``, ``reindex``) never create one: a SQLite
path that does not exist, or a file without memory-integrations tables, is "no memory store
at PATH" (exit code 4). A ``postgresql://`` URL is opened as usual. Only ``import`` (and
``demo``) create a new store.

When ``--embedder`` is left out, an embedded store is opened with the embedder its vectors
come from (recorded in the store), so nobody has to remember which one it was.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import click

from .._settings import DEFAULT_PATH, Settings
from ..client import AgentMemoryClient
from ..embedders import MINILM_NAME, Embedder, HashingEmbedder, resolve_embedder
from ..engine import Engine
from ..errors import ConfigurationError, EmbedderMismatchError, NotFoundError
from ..storage import EngineStore, SqlDatabase, database_location, open_database, redact
from ._errors import remember_store

F = TypeVar("F", bound=Callable[..., Any])

_POSTGRES = ("postgresql://", "postgres://")
_HTTP = ("http://", "https://")


def is_server(location: str) -> bool:
    return location.startswith(_HTTP)


def store_flag(location: str) -> str:
    """How to name this store again on a command line, for hints (secrets redacted)."""
    import shlex

    if location.startswith((*_POSTGRES, *_HTTP)):
        return f"--url {shlex.quote(redact(location))}"
    return f"--path {shlex.quote(location)}"


# --- options --------------------------------------------------------------------------


def store_options(*, required: bool, server: bool) -> Callable[[F], F]:
    """``--path/--url`` (one option), ``--token`` when a server is allowed, ``--embedder``."""

    def decorate(command: F) -> F:
        command = click.option(
            "--embedder",
            default=None,
            metavar="SPEC",
            help="Embedder spec (default, hashing, openai:<model>). Default: the one the "
            "store's vectors come from.",
        )(command)
        if server:
            command = click.option(
                "--token",
                default=None,
                envvar="MEMORY_INTEGRATIONS_TOKEN",
                help="Bearer token for a server URL (env MEMORY_INTEGRATIONS_TOKEN).",
            )(command)
        where = "a SQLite file or a postgresql:// URL"
        if server:
            where = "a SQLite file, a postgresql:// URL or an http(s):// server"
        if required:
            return click.option(
                "--path", "--url", "location", required=True, metavar="LOCATION", help=where
            )(command)
        return click.option(
            "--path",
            "--url",
            "location",
            envvar="MEMORY_INTEGRATIONS_URL",
            default=DEFAULT_PATH,
            show_default=True,
            metavar="LOCATION",
            help=f"The store: {where} (env MEMORY_INTEGRATIONS_URL).",
        )(command)

    return decorate


# --- existence ------------------------------------------------------------------------


def sqlite_path(location: str) -> Path | None:
    """The SQLite file of ``location`` (None for PostgreSQL); refuses servers."""
    resolved = database_location(location)
    if resolved.startswith(_POSTGRES):
        return None
    return Path(resolved).expanduser()


def require_store(location: str) -> None:
    """Raise unless ``location`` is an existing memory store; never creates anything."""
    if database_location(location) == ":memory:":
        raise ConfigurationError(
            "':memory:' is a new, empty store in every process; pass the file of a store"
        )
    path = sqlite_path(location)
    if path is None:  # PostgreSQL: opened as usual
        return
    if path.is_dir():
        raise ConfigurationError(
            f"{location} is a folder; pass the store file, e.g. {path / DEFAULT_PATH}"
        )
    if not path.exists():
        raise NotFoundError(
            f"no memory store at {location}: the file does not exist; check the path (or "
            "pass --url postgresql://... or --url http://...)"
        )
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mi_migrations'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigurationError(
            f"{location} is not a memory store ({exc}); check the path"
        ) from None
    if found is None:
        raise NotFoundError(
            f"no memory store at {location}: the file holds no memory-integrations tables; "
            "check the path"
        )


# --- embedders ------------------------------------------------------------------------


def _known_embedder(name: str, dim: int) -> Embedder | None:
    """The embedder a stored name stands for, when the CLI can build it alone."""
    if name == MINILM_NAME:
        return resolve_embedder("default")
    match = re.fullmatch(r"hashing-v1-(\d+)", name)
    if match and int(match[1]) == dim:
        return HashingEmbedder(dim)
    return None


def stored_embedder(database: SqlDatabase) -> tuple[str, int] | None:
    """The (name, dim) of the embedder the store's vectors come from, if recorded."""
    store = EngineStore(database)
    with database.read() as cur:
        name = store.get_meta(cur, "embedder_name")
        dim = store.get_meta(cur, "embedder_dim")
    if name is None or dim is None:
        return None
    return name, int(dim)


def choose_embedder(
    location: str,
    spec: str | None,
    stored: tuple[str, int] | None,
    *,
    embeds: bool,
    prefer: tuple[str, int] | None = None,
) -> Embedder:
    """``--embedder`` (checked against the store), else the store's own embedder, else
    ``prefer`` (an import file's) when the CLI can build it, else the configured default.

    ``embeds`` says whether the command embeds text (search, import, reindex): a store
    whose embedder the CLI cannot build then needs ``--embedder``; other commands get a
    stand-in of the right dimension that never embeds."""
    if spec is not None:
        chosen = resolve_embedder(spec)
        if stored is not None and (chosen.name, chosen.dim) != stored:
            raise EmbedderMismatchError(
                f"{redact(location)} holds vectors from embedder {stored[0]!r} ({stored[1]}-d), "
                f"but --embedder {spec} is {chosen.name!r} ({chosen.dim}-d); leave out "
                "--embedder to use the store's own, or re-embed the store with "
                f"`memory-integrations reindex {store_flag(location)} --embedder {spec}`"
            )
        return chosen
    if stored is None:
        preferred = None if prefer is None else _known_embedder(*prefer)
        return preferred or resolve_embedder(Settings().embedder)
    known = _known_embedder(*stored)
    if known is not None:
        return known
    if embeds:
        raise ConfigurationError(
            f"{redact(location)} holds vectors from embedder {stored[0]!r} ({stored[1]}-d); "
            "name it with --embedder SPEC (e.g. --embedder openai:<model>)"
        )
    return HashingEmbedder(stored[1])  # never asked to embed: only its dimension counts


# --- opening --------------------------------------------------------------------------


def open_store(
    location: str,
    *,
    embedder: str | None = None,
    token: str | None = None,
    must_exist: bool = True,
    embeds: bool = False,
    worker: bool = False,
    server_ok: bool = True,
    command: str = "this command",
    prefer: tuple[str, int] | None = None,
) -> AgentMemoryClient:
    """A client on ``location`` for a CLI command (closed by the caller).

    ``must_exist``: refuse a store that does not exist instead of creating it.
    ``worker``: run the background embedding worker (only commands that add blocks).
    ``prefer``: the embedder (name, dim) to give a new store when ``--embedder`` is absent.
    """
    remember_store(click.get_current_context(silent=True), store_flag(location))
    if is_server(location):
        if not server_ok:
            raise click.UsageError(
                f"{command} works on the store itself: pass its SQLite file or postgresql:// "
                "URL (run it where the server's store lives)"
            )
        if embedder is not None:
            raise click.UsageError("a server embeds on its own side: leave out --embedder")
        return AgentMemoryClient(base_url=location, token=token)
    if token is not None:
        raise click.UsageError("--token is for a server URL (--url http://...) only")
    if must_exist:
        require_store(location)
    database = open_database(location)
    try:
        stored = stored_embedder(database)
        chosen = choose_embedder(location, embedder, stored, embeds=embeds, prefer=prefer)
        engine = Engine(
            database,
            embedder=chosen,
            check_embedder=worker,  # records the embedder of a new store
            start_worker=worker,
        )
    except BaseException:
        database.close()
        raise
    return AgentMemoryClient(backend=engine)


def engine_of(client: AgentMemoryClient) -> Engine:
    backend = client.backend
    if not isinstance(backend, Engine):  # pragma: no cover - open_store refuses servers
        raise click.UsageError("this command needs a store file or postgresql:// URL")
    return backend
