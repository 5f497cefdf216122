"""Inputs the hostile fuzz run found reaching the engine unchecked (issue #15).

Over HTTP the server refuses lone surrogates at the JSON parser (I-JSON), but embedded
callers reach the engine directly, and a retention of 2**31-1 days passes the wire schema:
the engine's boundary validation refuses each with a ValidationError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memory_integrations.embedders import HashingEmbedder
from memory_integrations.engine import Engine
from memory_integrations.errors import ValidationError
from memory_integrations.storage import SQLiteDatabase

from .conftest import Live, start

LONE = "\ud800"
IDS: dict[str, Callable[[Engine], Any]] = {
    "create_user user_id": lambda e: e.create_user(LONE, "n"),
    "get_user user_id": lambda e: e.get_user(LONE),
    "create_session session_id": lambda e: e.create_session("u", LONE),
    "add_memory agent_id": lambda e: e.add_memory("u", "s", facts=["a"], agent_id=LONE),
    "search filters.agent_id": lambda e: e.search_memory("u", "s", "x", {"agent_id": LONE}),
    "search filters.block_ids": lambda e: e.search_memory("u", "s", "x", {"block_ids": [LONE]}),
    "delete_memory block_ids": lambda e: e.delete_memory("u", "s", [LONE]),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("gaps") / "memory.sqlite3"
    found = Engine(SQLiteDatabase(path), embedder=HashingEmbedder(), start_worker=False)
    found.create_user("u", "N")
    found.create_session("u", "s")
    yield found
    found.close(drain=False)


@pytest.mark.parametrize("call", list(IDS.values()), ids=list(IDS))
def test_lone_surrogates_in_ids_are_a_validation_error(
    engine: Engine, call: Callable[[Engine], Any]
) -> None:
    with pytest.raises(ValidationError):
        call(engine)


def test_huge_offset_is_a_validation_error(engine: Engine) -> None:
    with pytest.raises(ValidationError):
        engine.list_memories("u", offset=2**70)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Live]:
    server = start(tmp_path)
    yield server
    server.http.close()
    server.thread.stop()


def test_huge_retention_is_refused_before_it_breaks_the_sweep(fresh: Live) -> None:
    days = 2**31 - 1
    stored = fresh.http.put("/admin/retention", json={"message_days": days})
    swept = fresh.http.post("/admin/sweep", headers={"content-type": "application/json"})
    assert swept.status_code < 500, swept.text
    assert stored.status_code == 400, stored.text
