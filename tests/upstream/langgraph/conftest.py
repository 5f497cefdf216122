"""Fixtures for the ports of LangGraph's store and saver suites.

Upstream builds ``InMemoryStore`` / ``SqliteStore`` / ``PostgresStore`` and the matching savers;
here every fixture builds ours, on the ``storage`` parameter of the root conftest (a SQLite file
and a PostgreSQL schema). Stores rank with ``ranking="vector"``, the order LangGraph's stores
use (by score alone; the hybrid default is a documented difference), and run on a controllable
clock so TTL scenarios advance time instead of sleeping.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph.store.base", reason='needs "memory-integrations[langgraph]"')

from langchain_core.embeddings import Embeddings

from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore
from memory_integrations.storage import SqlDatabase, open_database
from tests.conftest import Clock, store_location


class CharacterEmbeddings(Embeddings):
    """The character-frequency embeddings LangGraph's store tests use: every character gets a
    random direction (seeded, drawn in first-seen order), a text is the frequency-weighted sum
    of its characters' directions, scaled to unit length."""

    def __init__(self, dims: int = 50, seed: int = 42) -> None:
        self.dims = dims
        self._random = random.Random(seed)
        self._directions: dict[str, list[float]] = {}

    def _direction(self, char: str) -> list[float]:
        if char not in self._directions:
            scale = 1 / math.sqrt(self.dims)
            self._directions[char] = [self._random.gauss(0, scale) for _ in range(self.dims)]
        return self._directions[char]

    def _one(self, text: str) -> list[float]:
        counts = Counter(text)
        total = sum(counts.values())
        if not total:
            return [0.0] * self.dims
        vector = [0.0] * self.dims
        for char, count in counts.items():
            for i, value in enumerate(self._direction(char)):
                vector[i] += count / total * value
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharacterEmbeddings) and other.dims == self.dims

    __hash__ = None  # type: ignore[assignment]


StoreFactory = Callable[..., AgentMemoryStore]


@pytest.fixture
def fake_embeddings() -> CharacterEmbeddings:
    return CharacterEmbeddings(dims=500)


@pytest.fixture
def new_location(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], str]]:
    """Another empty database of the same kind (upstream often opens a second store)."""
    with ExitStack() as stack:
        yield lambda: str(stack.enter_context(store_location(storage, tmp_path, request)))


@pytest.fixture
def make_store(db_path: Any, clock: Clock) -> Iterator[StoreFactory]:
    """``make_store(**kwargs)``: an ``AgentMemoryStore`` on this test's database (or on
    ``location=``)."""
    stores: list[AgentMemoryStore] = []

    def make(location: str | None = None, **kwargs: Any) -> AgentMemoryStore:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("ranking", "vector")
        store = AgentMemoryStore(location or str(db_path), **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> AgentMemoryStore:
    return make_store()


@pytest.fixture
def make_vector_store(
    make_store: StoreFactory, fake_embeddings: CharacterEmbeddings
) -> Callable[..., AgentMemoryStore]:
    """Upstream's ``create_vector_store``: an index on ``fake_embeddings``."""

    def make(
        text_fields: list[str] | None = None, distance_type: str = "cosine", **kwargs: Any
    ) -> AgentMemoryStore:
        index: dict[str, Any] = {
            "dims": fake_embeddings.dims,
            "embed": fake_embeddings,
            "distance_type": distance_type,
        }
        if text_fields is not None:
            index["fields"] = text_fields
        return make_store(index=index, **kwargs)

    return make


@pytest.fixture
def db(db_path: Any) -> Iterator[SqlDatabase]:
    database = open_database(str(db_path))
    yield database
    database.close()


@pytest.fixture
def saver(db: SqlDatabase) -> Iterator[AgentMemorySaver]:
    with AgentMemorySaver(db) as instance:
        yield instance
