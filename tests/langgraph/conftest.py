"""Fixtures for the LangGraph adapter tests (skipped when the extra is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.base", reason='needs "memory-integrations[langgraph]"')

from memory_integrations.langgraph import AgentMemorySaver
from memory_integrations.storage import SqlDatabase, open_database


@pytest.fixture
def db(db_path: Any) -> Iterator[SqlDatabase]:
    """A bare SQLite file or PostgreSQL schema, following the ``storage`` parameter."""
    database = open_database(str(db_path))
    yield database
    database.close()


@pytest.fixture
def saver(db: SqlDatabase) -> Iterator[AgentMemorySaver]:
    with AgentMemorySaver(db) as instance:
        yield instance
