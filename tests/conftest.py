"""Shared fixtures: a real SQLite file per test, with the deterministic hashing embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder


class Clock:
    """A controllable wall clock for TTL tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memory.sqlite3"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db_path: Path) -> Iterator[AgentMemoryClient]:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as c:
        yield c


@pytest.fixture
def clocked_client(db_path: Path, clock: Clock) -> Iterator[AgentMemoryClient]:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), clock=clock) as c:
        yield c
