"""Port of langgraph ``libs/checkpoint-sqlite/tests/test_aiosqlite.py`` (``AsyncSqliteSaver``)
to ``AgentMemorySaver``'s async methods, on SQLite and PostgreSQL. See tests/upstream/README.md."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    create_checkpoint,
    empty_checkpoint,
)

from memory_integrations.errors import ValidationError
from memory_integrations.langgraph import AgentMemorySaver

from .test_saver_memory import _cfg


class TestAsyncSqliteSaver:
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

    async def test_combined_metadata(self, saver: AgentMemorySaver) -> None:
        config: RunnableConfig = {
            "configurable": {
                "thread_id": "thread-2",
                "checkpoint_ns": "",
                "__super_private_key": "super_private_value",
            },
            "metadata": {"run_id": "my_run_id"},
        }
        await saver.aput(config, self.chkpnt_2, self.metadata_2, {})
        found = await saver.aget_tuple(config)
        assert found is not None and found.metadata == {**self.metadata_2, "run_id": "my_run_id"}

    async def test_asearch(self, saver: AgentMemorySaver) -> None:
        await saver.aput(self.config_1, self.chkpnt_1, self.metadata_1, {})
        await saver.aput(self.config_2, self.chkpnt_2, self.metadata_2, {})
        await saver.aput(self.config_3, self.chkpnt_3, self.metadata_3, {})

        async def listed(config: Any = None, **kwargs: Any) -> list[Any]:
            return [c async for c in saver.alist(config, **kwargs)]

        assert [t.metadata for t in await listed(filter={"source": "input"})] == [self.metadata_1]
        found = await listed(filter={"step": 1, "writes": {"foo": "bar"}})
        assert [t.metadata for t in found] == [self.metadata_2]
        assert len(await listed(filter={})) == 3
        assert await listed(filter={"source": "update", "step": 1}) == []
        thread2 = await listed({"configurable": {"thread_id": "thread-2"}})
        assert len(thread2) == 2
        assert {t.config["configurable"]["checkpoint_ns"] for t in thread2} == {"", "inner"}
        before = await listed(before=thread2[1].config)
        assert [t.config["configurable"]["thread_id"] for t in before] == ["thread-1"]

    async def test_limit_parameter_sql_injection_prevention(self, saver: AgentMemorySaver) -> None:
        for i in range(5):
            await saver.aput(_cfg(f"thread-{i}"), empty_checkpoint(), {"index": i}, {})  # type: ignore[typeddict-unknown-key]
        assert len([c async for c in saver.alist(None, limit=2)]) == 2
        assert [c async for c in saver.alist(None, limit=0)] == []
        assert len([c async for c in saver.alist(None, limit=None)]) == 5
        for limit in [
            "1; DROP TABLE checkpoints; --",
            "1 OR 1=1",
            "999999 UNION SELECT * FROM checkpoints",
        ]:
            # Upstream accepts any outcome but injection; here a non-integer is refused.
            with pytest.raises(ValidationError):
                [c async for c in saver.alist(None, limit=limit)]  # type: ignore[arg-type]
        assert len([c async for c in saver.alist(None, limit=None)]) == 5
