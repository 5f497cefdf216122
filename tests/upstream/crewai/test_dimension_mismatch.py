"""Port of CrewAI ``lib/crewai/tests/memory/test_dimension_mismatch.py`` to
``AgentMemoryStorage``. See tests/upstream/README.md.

Upstream checks ``LanceDBStorage``: embeddings of another length than the stored ones must fail
loudly (``EmbeddingDimensionMismatchError``, with CrewAI's migration advice) instead of being
zero-filled. ``AgentMemoryStorage`` keeps the crew's embeddings and applies the same rule.
``LanceDBStorage(path, vector_dim=4)`` becomes the storage for that path (this directory's
conftest); ``vector_dim`` has no counterpart: the first stored embedding sets the length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from crewai.memory.storage.backend import EmbeddingDimensionMismatchError
from crewai.memory.types import MemoryRecord


def _record(dim: int, content: str = "test") -> MemoryRecord:
    return MemoryRecord(content=content, scope="/foo", embedding=[0.1] * dim)


def test_lancedb_save_mismatch_raises(make_storage: Any) -> None:
    storage = make_storage("mem")
    storage.save([_record(4)])
    with pytest.raises(EmbeddingDimensionMismatchError) as caught:
        storage.save([_record(8, "new embedder output")])
    message = str(caught.value)
    assert "4-dimensional" in message and "8-dimensional" in message
    assert "crewai reset-memories --memory" in message and "text-embedding-3-small" in message


def test_lancedb_mixed_batch_mismatch_raises(make_storage: Any) -> None:
    storage = make_storage("mem")
    storage.save([_record(4)])
    with pytest.raises(EmbeddingDimensionMismatchError):
        storage.save([_record(4), _record(8, "stray dimension")])


def test_lancedb_mixed_batch_on_fresh_store_raises(make_storage: Any) -> None:
    storage = make_storage("mem")
    with pytest.raises(EmbeddingDimensionMismatchError):
        storage.save([_record(4), _record(8)])
    assert storage.count() == 0  # refused whole: nothing written


def test_lancedb_search_mismatch_raises(make_storage: Any) -> None:
    storage = make_storage("mem")
    storage.save([_record(4)])
    with pytest.raises(EmbeddingDimensionMismatchError):
        storage.search([0.1] * 8)


def test_lancedb_update_mismatch_raises(make_storage: Any) -> None:
    storage = make_storage("mem")
    record = _record(4)
    storage.save([record])
    stale = MemoryRecord(id=record.id, content="updated", scope="/foo", embedding=[0.1] * 8)
    with pytest.raises(EmbeddingDimensionMismatchError):
        storage.update(stale)


def test_lancedb_reopened_store_detects_mismatch(make_storage: Any) -> None:
    make_storage("mem").save([_record(4)])
    reopened = make_storage("mem")  # a new storage object on the same store
    with pytest.raises(EmbeddingDimensionMismatchError):
        reopened.save([_record(8)])
    with pytest.raises(EmbeddingDimensionMismatchError):
        reopened.search([0.1] * 8)


def test_memory_reset_all_rebuilds_reopened_store_with_new_dimension(
    tmp_path: Path, make_storage: Any
) -> None:
    from crewai.memory.unified_memory import Memory

    path = tmp_path / "mem"
    make_storage(str(path)).save([_record(4)])
    mem = Memory(
        storage=str(path),
        llm=MagicMock(),
        embedder=lambda texts: [[0.1] * 8 for _ in texts],
        root_scope="/crew/test",
    )
    mem.reset_all()
    mem.remember("new embedder output", scope="/facts", categories=["test"], importance=0.5)
    assert mem.recall("new embedder output", scope="/facts", depth="shallow")


def test_lancedb_matching_dim_still_works(make_storage: Any) -> None:
    storage = make_storage("mem")
    storage.save([_record(4)])
    storage.save([_record(4, "second")])
    assert len(storage.search([0.1] * 4, limit=5)) == 2


def test_error_is_not_a_runtime_error() -> None:
    err = EmbeddingDimensionMismatchError(1536, 3072)
    assert not isinstance(err, RuntimeError) and isinstance(err, ValueError)


def test_background_save_propagates_dimension_mismatch(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    mem = Memory(
        storage=str(tmp_path / "db"), llm=MagicMock(), embedder=lambda t: [[0.1] * 4 for _ in t]
    )

    def raise_mismatch(*_args: object, **_kwargs: object) -> None:
        raise EmbeddingDimensionMismatchError(1536, 3072)

    mem._encode_batch = raise_mismatch  # type: ignore[method-assign]
    with pytest.raises(EmbeddingDimensionMismatchError):
        mem._background_encode_batch(["content"], None, None, None, None, None, False, None)


def test_background_save_still_swallows_shutdown_runtime_error(tmp_path: Path) -> None:
    from crewai.memory.unified_memory import Memory

    mem = Memory(
        storage=str(tmp_path / "db"), llm=MagicMock(), embedder=lambda t: [[0.1] * 4 for _ in t]
    )

    def raise_shutdown(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    mem._encode_batch = raise_shutdown  # type: ignore[method-assign]
    result = mem._background_encode_batch(["content"], None, None, None, None, None, False, None)
    assert result == []


def test_a_real_memory_save_with_a_new_embedder_fails_loudly(
    tmp_path: Path, make_storage: Any
) -> None:
    """Not upstream: the end-to-end version of the above through Memory.remember."""
    from crewai.memory.unified_memory import Memory

    path = str(tmp_path / "mem")
    make_storage(path).save([_record(4)])
    mem = Memory(storage=path, llm=MagicMock(), embedder=lambda t: [[0.1] * 8 for _ in t])
    with pytest.raises(EmbeddingDimensionMismatchError):
        mem.remember("new embedder output", scope="/facts", categories=["t"], importance=0.5)
