"""Port of langgraph ``libs/checkpoint/tests/test_memory.py`` (``InMemorySaver``) to
``AgentMemorySaver``, on SQLite and PostgreSQL. See tests/upstream/README.md.

Upstream builds the delta-channel scenarios by writing ``InMemorySaver``'s dictionaries
directly; here the same checkpoint chains are written through the public API (``put`` with
``new_versions`` naming a channel it leaves out stores the "empty" marker, ``put_writes``
stores the writes).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    create_checkpoint,
    empty_checkpoint,
)
from langgraph.checkpoint.serde.jsonplus import (
    JsonPlusSerializer,
    _warned_blocked_types,
    _warned_unregistered_types,
)
from pydantic import BaseModel

from memory_integrations.langgraph import AgentMemorySaver
from memory_integrations.storage import SqlDatabase


class MemoryPydantic(BaseModel):
    foo: str


ALLOW = [(__name__, "MemoryPydantic")]


@pytest.fixture(autouse=True)
def _reset_warned_types() -> None:
    # langgraph remembers which types it warned about, process-wide.
    _warned_unregistered_types.clear()
    _warned_blocked_types.clear()


def _cfg(thread: str, checkpoint_id: str | None = None, ns: str = "") -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


class TestMemorySaver:
    @pytest.fixture(autouse=True)
    def setup(self) -> None:
        self.config_1 = _cfg("thread-1", "1")
        self.config_2 = _cfg("thread-2", "2")
        self.config_3 = _cfg("thread-2", "2-inner", "inner")
        self.chkpnt_1: Checkpoint = empty_checkpoint()
        self.chkpnt_2: Checkpoint = create_checkpoint(self.chkpnt_1, {}, 1)
        self.chkpnt_3: Checkpoint = empty_checkpoint()
        self.metadata_1: CheckpointMetadata = {
            "source": "input",
            "step": 2,
            "writes": {},
            "score": 1,
        }  # type: ignore[typeddict-unknown-key]
        self.metadata_2: CheckpointMetadata = {
            "source": "loop",
            "step": 1,
            "writes": {"foo": "bar"},
            "score": None,
        }  # type: ignore[typeddict-unknown-key]
        self.metadata_3: CheckpointMetadata = {}

    def _put_three(self, saver: AgentMemorySaver) -> None:
        for config, checkpoint, metadata in [
            (self.config_1, self.chkpnt_1, self.metadata_1),
            (self.config_2, self.chkpnt_2, self.metadata_2),
            (self.config_3, self.chkpnt_3, self.metadata_3),
        ]:
            saver.put(config, checkpoint, metadata, checkpoint["channel_versions"])

    def test_combined_metadata(self, saver: AgentMemorySaver) -> None:
        config: RunnableConfig = {
            "configurable": {
                "thread_id": "thread-2",
                "checkpoint_ns": "",
                "__super_private_key": "super_private_value",
            },
            "metadata": {"run_id": "my_run_id"},
        }
        saver.put(config, self.chkpnt_2, self.metadata_2, self.chkpnt_2["channel_versions"])
        found = saver.get_tuple(config)
        assert found is not None
        assert found.metadata == {**self.metadata_2, "run_id": "my_run_id"}

    async def test_search(self, saver: AgentMemorySaver) -> None:
        self._put_three(saver)
        found = list(saver.list(None, filter={"source": "input"}))
        assert [t.metadata for t in found] == [self.metadata_1]
        found = list(saver.list(None, filter={"step": 1, "writes": {"foo": "bar"}}))
        assert [t.metadata for t in found] == [self.metadata_2]
        assert len(list(saver.list(None, filter={}))) == 3
        assert list(saver.list(None, filter={"source": "update", "step": 1})) == []
        found = list(saver.list({"configurable": {"thread_id": "thread-2"}}))
        assert {t.config["configurable"]["checkpoint_ns"] for t in found} == {"", "inner"}
        assert len(found) == 2

    async def test_asearch(self, saver: AgentMemorySaver) -> None:
        self._put_three(saver)
        found = [c async for c in saver.alist(None, filter={"source": "input"})]
        assert [t.metadata for t in found] == [self.metadata_1]
        found = [c async for c in saver.alist(None, filter={"step": 1, "writes": {"foo": "bar"}})]
        assert [t.metadata for t in found] == [self.metadata_2]
        assert len([c async for c in saver.alist(None, filter={})]) == 3
        assert [c async for c in saver.alist(None, filter={"source": "update", "step": 1})] == []


async def test_memory_saver(saver: AgentMemorySaver) -> None:
    assert isinstance(saver, AgentMemorySaver)
    async with saver as entered:
        assert entered is saver
    with saver as entered_again:  # upstream reuses the saver after the async block
        assert entered_again is saver


def _one_value_checkpoint(obj: Any) -> Checkpoint:
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"foo": obj}
    checkpoint["channel_versions"] = {"foo": 1}
    return checkpoint


def test_memory_saver_warns_on_unregistered_msgpack(
    db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    with AgentMemorySaver(db, serde=JsonPlusSerializer()) as saver:
        obj = MemoryPydantic(foo="bar")
        caplog.set_level(logging.WARNING, logger="langgraph.checkpoint.serde.jsonplus")
        config = saver.put(_cfg("thread-1"), _one_value_checkpoint(obj), {}, {"foo": 1})
        found = saver.get_tuple(config)
        assert found is not None
        assert "unregistered type" in caplog.text.lower()
        assert found.checkpoint["channel_values"]["foo"] == obj


def test_memory_saver_allowlist_silences_warning(
    db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    with AgentMemorySaver(db, serde=JsonPlusSerializer(allowed_msgpack_modules=ALLOW)) as saver:
        obj = MemoryPydantic(foo="bar")
        caplog.set_level(logging.WARNING, logger="langgraph.checkpoint.serde.jsonplus")
        config = saver.put(_cfg("thread-1"), _one_value_checkpoint(obj), {}, {"foo": 1})
        found = saver.get_tuple(config)
        assert found is not None
        assert "unregistered type" not in caplog.text.lower()
        assert found.checkpoint["channel_values"]["foo"] == obj


def test_memory_saver_strict_blocks_unregistered(
    db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    with AgentMemorySaver(db, serde=JsonPlusSerializer(allowed_msgpack_modules=None)) as saver:
        obj = MemoryPydantic(foo="bar")
        caplog.set_level(logging.WARNING, logger="langgraph.checkpoint.serde.jsonplus")
        config = saver.put(_cfg("thread-1"), _one_value_checkpoint(obj), {}, {"foo": 1})
        found = saver.get_tuple(config)
        assert found is not None
        assert "blocked" in caplog.text.lower()
        assert found.checkpoint["channel_values"]["foo"] == obj.model_dump()


def test_memory_saver_with_allowlist_proxy_isolated(db: SqlDatabase) -> None:
    with AgentMemorySaver(db, serde=JsonPlusSerializer(allowed_msgpack_modules=None)) as saver:
        proxy = saver.with_allowlist(ALLOW)
        obj = MemoryPydantic(foo="bar")
        config = proxy.put(_cfg("thread-1"), _one_value_checkpoint(obj), {}, {"foo": 1})
        proxied = proxy.get_tuple(config)
        assert proxied is not None and proxied.checkpoint["channel_values"]["foo"] == obj
        direct = saver.get_tuple(config)
        assert direct is not None
        assert direct.checkpoint["channel_values"]["foo"] == obj.model_dump()


# --- delta channels (get_delta_channel_history) -----------------------------------------------

CH = "messages"


def _checkpoint(checkpoint_id: str, version: str | None = None) -> Checkpoint:
    checkpoint = empty_checkpoint()
    checkpoint["id"] = checkpoint_id
    if version is not None:
        checkpoint["channel_versions"][CH] = version
    return checkpoint


def _chain(
    saver: AgentMemorySaver,
    steps: list[tuple[str, str | None, Any, Any]],
    thread: str = "t1",
) -> None:
    """``steps``: (checkpoint id, channel version or None, stored value or EMPTY or None,
    the write stored under that checkpoint or None), oldest first, each the next's parent."""
    parent: str | None = None
    for n, (checkpoint_id, version, value, write) in enumerate(steps):
        checkpoint = _checkpoint(checkpoint_id, version)
        new_versions: dict[str, Any] = {}
        if version is not None:
            new_versions[CH] = version
            if value is not EMPTY:
                checkpoint["channel_values"][CH] = value
        config = saver.put(_cfg(thread, parent), checkpoint, {}, new_versions)
        if write is not None:
            saver.put_writes(config, [(CH, write)], task_id=f"task{n}")
        parent = checkpoint_id


EMPTY = object()  # the channel is in new_versions without a value: stored "empty"


class TestInMemorySaverDeltaChannel:
    def test_load_blobs_omits_delta_channel(self, saver: AgentMemorySaver) -> None:
        """A channel stored "empty" is left out of the loaded values (reconstructed later)."""
        v1 = "00000000000000000000000000000001.0000000000000000"
        _chain(saver, [("cp1", v1, EMPTY, None)])
        found = saver.get_tuple(_cfg("t1", "cp1"))
        assert found is not None and CH not in found.checkpoint["channel_values"]

    def test_get_channel_writes_collects_ancestor_writes_only(
        self, saver: AgentMemorySaver
    ) -> None:
        _chain(
            saver,
            [("cp1", None, None, {"content": "hi"}), ("cp2", None, None, {"content": "pending"})],
        )
        result = saver.get_delta_channel_history(config=_cfg("t1", "cp2"), channels=[CH])[CH]
        assert "seed" not in result  # the walk reached the root without a stored value
        assert [v for _, _, v in result["writes"]] == [{"content": "hi"}]

    def test_get_channel_writes_at_root_returns_empty(self, saver: AgentMemorySaver) -> None:
        _chain(saver, [("cp1", None, None, {"content": "pending"})])
        result = saver.get_delta_channel_history(config=_cfg("t1", "cp1"), channels=[CH])[CH]
        assert "seed" not in result and result["writes"] == []


class TestBaseFallbackGetChannelWrites:
    """Upstream makes an ``InMemorySaver`` subclass fall back to ``BaseCheckpointSaver``'s
    ``get_delta_channel_history``; ``AgentMemorySaver`` inherits that default as it is."""

    CP = [f"{n:032}.0000000000000000" for n in (1, 2, 3)]

    def _build(self, saver: AgentMemorySaver) -> None:
        assert "get_delta_channel_history" not in vars(AgentMemorySaver)
        _chain(
            saver,
            [
                (self.CP[0], None, None, {"content": "first"}),
                (self.CP[1], None, None, {"content": "second"}),
                (self.CP[2], None, None, None),
            ],
        )

    def test_fallback_returns_ancestor_writes_oldest_first(self, saver: AgentMemorySaver) -> None:
        self._build(saver)
        result = saver.get_delta_channel_history(config=_cfg("t1", self.CP[2]), channels=[CH])[CH]
        assert "seed" not in result
        assert [v for _, _, v in result["writes"]] == [{"content": "first"}, {"content": "second"}]

    async def test_async_fallback_returns_ancestor_writes_oldest_first(
        self, saver: AgentMemorySaver
    ) -> None:
        self._build(saver)
        history = await saver.aget_delta_channel_history(
            config=_cfg("t1", self.CP[2]), channels=[CH]
        )
        assert "seed" not in history[CH]
        assert [v for _, _, v in history[CH]["writes"]] == [
            {"content": "first"},
            {"content": "second"},
        ]

    async def test_async_fallback_concurrent_tasks_do_not_interfere(
        self, saver: AgentMemorySaver
    ) -> None:
        self._build(saver)
        original = saver.aget_tuple

        async def slow_aget_tuple(config: RunnableConfig) -> Any:
            await asyncio.sleep(0)
            return await original(config)

        saver.aget_tuple = slow_aget_tuple  # type: ignore[method-assign]
        config = _cfg("t1", self.CP[2])
        results = await asyncio.gather(
            saver.aget_delta_channel_history(config=config, channels=[CH]),
            saver.aget_delta_channel_history(config=config, channels=[CH]),
        )
        for history in results:
            assert "seed" not in history[CH]
            assert [v for _, _, v in history[CH]["writes"]] == [
                {"content": "first"},
                {"content": "second"},
            ]


class TestPreDeltaBlobTerminator:
    """cp0 and cp1 stored real values (before delta channels), cp2 and cp3 store "empty";
    reconstructing at cp3 seeds from cp1's value and replays only the writes after it."""

    def _build(self, saver: AgentMemorySaver) -> None:
        versions = [f"{n:032}.0" for n in range(4)]
        _chain(
            saver,
            [
                ("cp0", versions[0], [], "OLDER-WRITE"),
                ("cp1", versions[1], ["A"], "PRE-DELTA-WRITE"),
                ("cp2", versions[2], EMPTY, "B"),
                ("cp3", versions[3], EMPTY, "PENDING-AT-TARGET"),
            ],
        )

    def test_seed_from_pre_delta_ancestor_blob(self, saver: AgentMemorySaver) -> None:
        self._build(saver)
        result = saver.get_delta_channel_history(config=_cfg("t1", "cp3"), channels=[CH])[CH]
        assert result["seed"] == ["A"]
        assert [v for _, _, v in result["writes"]] == ["PRE-DELTA-WRITE", "B"]

    def test_seed_bounds_walk_without_dropping_its_own_writes(
        self, saver: AgentMemorySaver
    ) -> None:
        self._build(saver)
        result = saver.get_delta_channel_history(config=_cfg("t1", "cp3"), channels=[CH])[CH]
        values = [v for _, _, v in result["writes"]]
        assert "OLDER-WRITE" not in values
        assert "PRE-DELTA-WRITE" in values
        assert "PENDING-AT-TARGET" not in values
