"""LangGraph adapters kept in the memory database.

``AgentMemorySaver`` (checkpointer with thread TTL), ``AgentMemoryStore`` (a ``BaseStore`` with
hybrid semantic search and TTL) and ``AgentMemoryNodes`` (the search → inject → persist turn
as graph nodes).

Needs the ``langgraph`` extra: ``pip install "memory-integrations[langgraph]"``.
"""

from __future__ import annotations

try:
    import langgraph.checkpoint.base  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "memory_integrations.langgraph needs LangGraph, which is not installed. "
        'Install the extra: pip install "memory-integrations[langgraph]"'
    ) from exc

from ._nodes import AgentMemoryNodes, MemoryState
from ._saver import AgentMemorySaver, adelete_thread_and_session, delete_thread_and_session
from ._store import AgentMemoryStore

__all__ = [
    "AgentMemoryNodes",
    "AgentMemorySaver",
    "AgentMemoryStore",
    "MemoryState",
    "adelete_thread_and_session",
    "delete_thread_and_session",
]
