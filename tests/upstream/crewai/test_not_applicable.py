"""Files of CrewAI's ``lib/crewai/tests/memory`` that have nothing to run against
``AgentMemoryStorage``. See tests/upstream/README.md."""

from __future__ import annotations

import pytest


@pytest.mark.skip(
    reason="test_qdrant_edge_storage.py tests QdrantEdgeStorage itself (its local Qdrant "
    "files and client); the StorageBackend contract it shares is covered by the ports of "
    "test_unified_memory.py and test_dimension_mismatch.py"
)
def test_qdrant_edge_storage() -> None:
    """Upstream: lib/crewai/tests/memory/test_qdrant_edge_storage.py."""


@pytest.mark.skip(
    reason="test_concurrent_storage.py is skipped upstream as a whole (multiprocessing under "
    "xdist); the engine's multi-process use is tested in tests/reliability"
)
def test_concurrent_storage() -> None:
    """Upstream: lib/crewai/tests/memory/test_concurrent_storage.py."""
