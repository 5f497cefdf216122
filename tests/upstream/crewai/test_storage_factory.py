"""Port of CrewAI ``lib/crewai/tests/memory/test_storage_factory.py`` (the
``set_memory_storage_factory`` seam) with ``AgentMemoryStorage`` as the registered backend.
See tests/upstream/README.md."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import crewai.memory.storage.factory as factory
import pytest
from crewai.memory.unified_memory import Memory

from memory_integrations.crewai import AgentMemoryStorage


@pytest.fixture(autouse=True)
def reset_factory() -> Iterator[None]:
    """Upstream starts each test with no factory (this directory's conftest installs one)."""
    original = factory._factory
    factory.set_memory_storage_factory(None)
    yield
    factory.set_memory_storage_factory(original)


def test_resolve_reflects_registered_factory(make_storage: Any) -> None:
    storage = make_storage("lancedb")
    assert factory.resolve_memory_storage("lancedb") is None
    factory.set_memory_storage_factory(lambda spec: storage)
    assert factory.resolve_memory_storage("lancedb") is storage
    factory.set_memory_storage_factory(None)
    assert factory.resolve_memory_storage("lancedb") is None


def test_factory_backend_used_for_string_spec(make_storage: Any) -> None:
    storage = make_storage("lancedb")
    factory.set_memory_storage_factory(lambda spec: storage)
    assert Memory(storage="lancedb")._storage is storage


def test_factory_receives_the_raw_spec(make_storage: Any) -> None:
    seen: list[str] = []

    def make(spec: str) -> AgentMemoryStorage:
        seen.append(spec)
        made: AgentMemoryStorage = make_storage(spec)
        return made

    factory.set_memory_storage_factory(make)
    memory = Memory(storage="some/custom/path")
    assert seen == ["some/custom/path"]
    assert isinstance(memory._storage, AgentMemoryStorage)


def test_explicit_storage_instance_bypasses_factory(make_storage: Any) -> None:
    called = False

    def make(spec: str) -> AgentMemoryStorage:
        nonlocal called
        called = True
        made: AgentMemoryStorage = make_storage(spec)
        return made

    factory.set_memory_storage_factory(make)
    explicit = make_storage("explicit")
    assert Memory(storage=explicit)._storage is explicit
    assert called is False
