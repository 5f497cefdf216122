"""Port of langgraph ``libs/checkpoint-postgres/tests/test_sync.py`` (``PostgresSaver``) to
``AgentMemorySaver``, on SQLite and PostgreSQL. See tests/upstream/README.md.

Upstream runs each test on four savers: plain, pooled and pipelined connections, and
``ShallowPostgresSaver`` (latest checkpoint only). ``AgentMemorySaver`` has one connection
mode and keeps every checkpoint, so that axis is gone.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    EXCLUDED_METADATA_KEYS,
    Checkpoint,
    CheckpointMetadata,
    create_checkpoint,
    empty_checkpoint,
)
from langgraph.checkpoint.serde.types import TASKS

from memory_integrations.langgraph import AgentMemorySaver
from memory_integrations.langgraph._saver_sql import MIGRATIONS

from .test_saver_memory import _cfg

PENDING_SENDS_LAYOUT = (
    "migrates PostgresSaver's pre-v4 storage layout (a checkpoint's sends kept as TASKS writes "
    "of its parent); AgentMemorySaver never stored that layout: a pre-v4 checkpoint keeps its "
    "own pending_sends, round-tripped verbatim (checked below), and langgraph moves them to "
    "the TASKS channel when it loads the checkpoint"
)


def _exclude_keys(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in EXCLUDED_METADATA_KEYS}


@pytest.fixture
def test_data() -> dict[str, Any]:
    metadata: list[CheckpointMetadata] = [
        {"source": "input", "step": 2, "score": 1},  # type: ignore[typeddict-unknown-key]
        {"source": "loop", "step": 1, "score": None},  # type: ignore[typeddict-unknown-key]
        {},
    ]
    first: Checkpoint = empty_checkpoint()
    return {
        "configs": [
            _cfg("thread-1", "1"),
            _cfg("thread-2", "2"),
            _cfg("thread-2", "2-inner", "inner"),
        ],
        "checkpoints": [first, create_checkpoint(first, {}, 1), empty_checkpoint()],
        "metadata": metadata,
    }


def test_combined_metadata(saver: AgentMemorySaver) -> None:
    config: RunnableConfig = {
        "configurable": {
            "thread_id": "thread-2",
            "checkpoint_ns": "",
            "__super_private_key": "super_private_value",
        },
        "metadata": {"run_id": "my_run_id"},
    }
    metadata: CheckpointMetadata = {"source": "loop", "step": 1, "score": None}  # type: ignore[typeddict-unknown-key]
    saver.put(config, create_checkpoint(empty_checkpoint(), {}, 1), metadata, {})
    found = saver.get_tuple(config)
    assert found is not None and found.metadata == {**metadata, "run_id": "my_run_id"}


def test_search(saver: AgentMemorySaver, test_data: dict[str, Any]) -> None:
    configs, checkpoints, metadata = (test_data[k] for k in ("configs", "checkpoints", "metadata"))
    for config, checkpoint, meta in zip(configs, checkpoints, metadata, strict=True):
        saver.put(config, checkpoint, meta, {})
    found = list(saver.list(None, filter={"source": "input"}))
    assert [t.metadata for t in found] == [
        {**_exclude_keys(configs[0]["configurable"]), **metadata[0]}
    ]
    found = list(saver.list(None, filter={"step": 1}))
    assert [t.metadata for t in found] == [
        {**_exclude_keys(configs[1]["configurable"]), **metadata[1]}
    ]
    assert len(list(saver.list(None, filter={}))) == 3
    assert list(saver.list(None, filter={"source": "update", "step": 1})) == []
    thread2 = list(saver.list({"configurable": {"thread_id": "thread-2"}}))
    assert len(thread2) == 2
    assert {t.config["configurable"]["checkpoint_ns"] for t in thread2} == {"", "inner"}


def test_null_chars(saver: AgentMemorySaver, test_data: dict[str, Any]) -> None:
    config = saver.put(
        test_data["configs"][0],
        test_data["checkpoints"][0],
        {"my_key": "\x00abc"},
        {},  # type: ignore[typeddict-unknown-key]
    )
    found = saver.get_tuple(config)
    assert found is not None and found.metadata["my_key"] == "abc"  # type: ignore[typeddict-item]
    listed = list(saver.list(None, filter={"my_key": "abc"}))
    assert listed[0].metadata["my_key"] == "abc"  # type: ignore[typeddict-item]


def test_nonnull_migrations() -> None:
    """Upstream checks PostgresSaver.MIGRATIONS; these are ours."""
    for migration in MIGRATIONS:
        assert migration.split(), f"empty migration: {migration!r}"


@pytest.mark.skip(reason=PENDING_SENDS_LAYOUT)
def test_pending_sends_migration() -> None:
    """Upstream: sends stored as parent writes appear in the TASKS channel of a v < 4
    checkpoint."""


def test_pre_v4_pending_sends_round_trip(saver: AgentMemorySaver) -> None:
    """What replaces the migration here: a v < 4 checkpoint is stored and read back verbatim,
    pending_sends included (langgraph moves them to TASKS when it loads it)."""
    checkpoint = empty_checkpoint()
    checkpoint["v"] = 2
    checkpoint["pending_sends"] = ["send-1", "send-2"]  # type: ignore[typeddict-unknown-key]
    config = saver.put(_cfg("thread-1"), checkpoint, {}, {})
    found = saver.get_tuple(config)
    assert found is not None
    assert found.checkpoint.get("pending_sends") == ["send-1", "send-2"]
    assert found.checkpoint["v"] == 2 and TASKS not in found.checkpoint["channel_values"]


@pytest.mark.skip(
    reason="patches PostgresSaver's private _load_checkpoint_tuple to drop channel_values "
    "from a stored row; AgentMemorySaver rebuilds channel_values from its blob rows"
)
def test_get_checkpoint_no_channel_values() -> None:
    """Upstream: a stored checkpoint without channel_values loads with {}."""
