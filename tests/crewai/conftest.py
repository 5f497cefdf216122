"""Fixtures for the CrewAI adapter tests (skipped when the extra is not installed).

Everything runs offline: telemetry and tracing are switched off before CrewAI is imported,
no OpenAI key is visible, and every test fails if anything opens a network connection.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("CREWAI_STORAGE_DIR", tempfile.mkdtemp(prefix="crewai-storage-"))
pytest.importorskip("crewai.memory.storage.backend", reason='needs "memory-integrations[crewai]"')

from _crewai_app import network_guard

from memory_integrations import AgentMemoryClient
from memory_integrations.crewai import AgentMemoryStorage


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OpenAI key, and no network connection may even be attempted."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with network_guard() as attempts:
        yield
    assert attempts == [], f"tests must not touch the network: {attempts}"


@pytest.fixture
def crew_storage(client: AgentMemoryClient) -> AgentMemoryStorage:
    return AgentMemoryStorage(client, user_id="tenant")


@pytest.fixture
def embed(crew_storage: AgentMemoryStorage) -> Any:
    """The query-vector maker CrewAI would use with ``crew_storage``."""
    return lambda text: crew_storage.embedder([text])[0]


@pytest.fixture
def default_client(tmp_path: Path) -> Iterator[AgentMemoryClient]:
    """A client on the real local embedder (all-MiniLM-L6-v2): the no-API-key setup."""
    with AgentMemoryClient(tmp_path / "crew.sqlite3", embedder="default") as c:
        yield c
