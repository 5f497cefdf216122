"""Fixtures for the notebook tests: a small SQLite memory, and no network."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse (and record) every non-loopback connection; fail the test if one was tried.

    Loopback stays open for the Jupyter kernels the notebook tests start.
    """
    attempts: list[Any] = []

    def guard(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any) -> Any:
            host = address[0] if isinstance(address, tuple) else address
            if self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
                attempts.append(address)
                raise OSError(f"network disabled in the notebook tests: {address!r}")
            return real(self, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guard(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(socket.socket.connect_ex))
    yield attempts
    assert attempts == [], f"the test tried to reach the network: {attempts}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[AgentMemoryClient]:
    """A SQLite memory file (the notebooks' storage) with the fast hashing embedder."""
    with AgentMemoryClient(tmp_path / "memory.sqlite3", embedder=HashingEmbedder()) as c:
        yield c
