"""The storage's hold on the engine: a client, and the user / session handles it opened.

A storage that opened its client itself (from a path, a URL or the default location) closes
it in ``close()``, which CrewAI's ``Memory.close()`` calls, yet keeps working afterwards the
way CrewAI's own LanceDB storage does: the next call opens the client again. A client the
caller passed in belongs to the caller; the storage never closes it. Per-agent views of a
storage share one handle, so a close and a reopen apply to all of them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..client import AgentMemoryClient, AsyncAgentMemoryClient, SessionResource, UserResource
from ..errors import ConfigurationError

Source = AgentMemoryClient | AsyncAgentMemoryClient | str | Path | None


def _client_of(value: object) -> AgentMemoryClient:
    """The client behind ``value``: a client, or where the memory lives (opened here)."""
    if isinstance(value, AsyncAgentMemoryClient):
        return value.sync_client
    if isinstance(value, AgentMemoryClient):
        return value
    if value is None or isinstance(value, str | Path):
        return AgentMemoryClient(value)  # None: the default store; a bad path: a typed error
    raise ConfigurationError(
        "AgentMemoryStorage needs an AgentMemoryClient, an AsyncAgentMemoryClient, or where "
        "the memory lives (a SQLite path as str or pathlib.Path, or a postgresql:// URL; "
        f"None for the default store), got {type(value).__name__}"
    )


class ClientHandle:
    """A client (reopened on use after ``close()`` when this handle opened it) and the
    user and session handles opened on it."""

    def __init__(self, source: Source) -> None:
        self.owned = not isinstance(source, AgentMemoryClient | AsyncAgentMemoryClient)
        self._location: str | Path | None = source if isinstance(source, str | Path) else None
        self._client = _client_of(source)
        self.lock = threading.RLock()
        self.user: UserResource | None = None
        self.sessions: dict[str, SessionResource] = {}

    @property
    def client(self) -> AgentMemoryClient:
        """The client; one this handle opened and then closed is opened again."""
        with self.lock:
            if self.owned and self._client.closed:
                self._client = AgentMemoryClient(self._location)
                self.forget()
            return self._client

    def forget(self) -> None:
        """Drop the user and session handles (deleted, or opened on a closed client)."""
        with self.lock:
            self.user = None
            self.sessions.clear()

    def close(self) -> None:
        """Close the client if this handle opened it; the next use opens it again."""
        with self.lock:
            if self.owned and not self._client.closed:
                self._client.close()
            self.forget()
