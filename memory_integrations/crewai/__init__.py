"""CrewAI adapters: crew memory (CrewAI 1.x unified ``Memory``) kept in the memory engine.

* :class:`AgentMemoryStorage`: a CrewAI ``StorageBackend`` for ``Memory(storage=...)``;
* :class:`AgentMemoryEmbedder`: a local embedder callable (no OpenAI key);
* :func:`agent_memory_for_crew`: both wired into a ``Memory`` in one call;
* :class:`CrewMemory`: that ``Memory``, with ``analysis=False`` (no LLM) and per-agent
  private memory (:meth:`CrewMemory.for_agent`).

Needs the ``crewai`` extra: ``pip install "memory-integrations[crewai]"``.
"""

from __future__ import annotations

try:
    import crewai.memory.storage.backend  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "memory_integrations.crewai needs CrewAI 1.x, which is not installed. "
        'Install the extra: pip install "memory-integrations[crewai]"'
    ) from exc

from ._embedder import AgentMemoryEmbedder
from ._memory import CrewMemory, OfflineAnalysisLLM, agent_memory_for_crew, extract_result
from ._scopes import META_KEY, normalize_scope
from ._storage import AgentMemoryStorage, ScoreScale

__all__ = [
    "META_KEY",
    "AgentMemoryEmbedder",
    "AgentMemoryStorage",
    "CrewMemory",
    "OfflineAnalysisLLM",
    "ScoreScale",
    "agent_memory_for_crew",
    "extract_result",
    "normalize_scope",
]
