"""Fixtures for the ports of CrewAI's ``tests/memory`` suite.

Upstream hands ``Memory(storage=str(tmp_path / "db"))`` a path, which CrewAI turns into its
default LanceDB storage. Here a storage factory (CrewAI's own seam,
``set_memory_storage_factory``) turns every such string into an ``AgentMemoryStorage`` on this
test's database (the ``storage`` parameter: SQLite and PostgreSQL): one engine user per path,
so two ``Memory`` objects on one path share records, as they share a LanceDB directory
upstream. Test bodies keep upstream's construction calls unchanged. Everything runs offline.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

for _name, _value in {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}.items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("CREWAI_STORAGE_DIR", tempfile.mkdtemp(prefix="crewai-upstream-"))
pytest.importorskip("crewai.memory.storage.backend", reason='needs "memory-integrations[crewai]"')

import crewai.memory.storage.factory as storage_factory  # noqa: E402

from memory_integrations import AgentMemoryClient  # noqa: E402
from memory_integrations.crewai import AgentMemoryStorage  # noqa: E402


def user_for(spec: str) -> str:
    """The engine user standing for a storage spec (a path, "lancedb", ...)."""
    return "spec-" + hashlib.blake2b(spec.encode(), digest_size=6).hexdigest()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OpenAI key, and no IP connection may even be attempted."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(f"network disabled in tests: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert attempts == [], f"tests must not touch the network: {attempts}"


@pytest.fixture
def make_storage(client: AgentMemoryClient) -> Callable[[str], AgentMemoryStorage]:
    """``make_storage(spec)``: the AgentMemoryStorage standing for that storage spec."""
    return lambda spec: AgentMemoryStorage(client, user_id=user_for(spec))


@pytest.fixture(autouse=True)
def agent_memory_storage_factory(
    make_storage: Callable[[str], AgentMemoryStorage],
) -> Iterator[None]:
    original = storage_factory._factory
    storage_factory.set_memory_storage_factory(make_storage)
    yield
    storage_factory.set_memory_storage_factory(original)
