"""Port of langgraph ``libs/checkpoint-sqlite/tests/test_sqlite.py`` (``SqliteSaver``) to
``AgentMemorySaver``, on SQLite and PostgreSQL. See tests/upstream/README.md."""

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

from memory_integrations.langgraph import AgentMemorySaver

from .test_saver_memory import _cfg

MALICIOUS_KEYS = [
    "x') OR '1'='1",
    "x') OR 1=1 --",
    "x') UNION SELECT 1,2,3,4,5,6,7 --",
    "access') = 'public' OR '1'='1' OR json_extract(value, '$.",
    "'; DROP TABLE checkpoints; --",
]


class TestSqliteSaver:
    @pytest.fixture(autouse=True)
    def setup(self) -> None:
        self.config_1 = _cfg("thread-1", "1")  # "1": an old-style id (backwards compatibility)
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

    def test_combined_metadata(self, saver: AgentMemorySaver) -> None:
        config: RunnableConfig = {
            "configurable": {
                "thread_id": "thread-2",
                "checkpoint_ns": "",
                "__super_private_key": "super_private_value",
            },
            "metadata": {"run_id": "my_run_id"},
        }
        saver.put(config, self.chkpnt_2, self.metadata_2, {})
        found = saver.get_tuple(config)
        assert found is not None and found.metadata == {**self.metadata_2, "run_id": "my_run_id"}

    def test_search(self, saver: AgentMemorySaver) -> None:
        saver.put(self.config_1, self.chkpnt_1, self.metadata_1, {})
        saver.put(self.config_2, self.chkpnt_2, self.metadata_2, {})
        saver.put(self.config_3, self.chkpnt_3, self.metadata_3, {})
        found = list(saver.list(None, filter={"source": "input"}))
        assert [t.metadata for t in found] == [self.metadata_1]
        found = list(saver.list(None, filter={"step": 1, "writes": {"foo": "bar"}}))
        assert [t.metadata for t in found] == [self.metadata_2]
        assert len(list(saver.list(None, filter={}))) == 3
        assert list(saver.list(None, filter={"source": "update", "step": 1})) == []
        thread2 = list(saver.list({"configurable": {"thread_id": "thread-2"}}))
        assert len(thread2) == 2
        assert {t.config["configurable"]["checkpoint_ns"] for t in thread2} == {"", "inner"}
        before = list(saver.list(None, before=thread2[1].config))
        assert [t.config["configurable"]["thread_id"] for t in before] == ["thread-1"]
        limited = list(saver.list({"configurable": {"thread_id": "thread-2"}}, limit=1))
        assert [t.config["configurable"]["thread_id"] for t in limited] == ["thread-2"]

    @pytest.mark.skip(reason="tests the WHERE clause text SqliteSaver's private helper builds")
    def test_search_where(self) -> None:
        """Upstream: langgraph.checkpoint.sqlite.utils.search_where."""

    @pytest.mark.skip(reason="tests the SQL SqliteSaver's private _metadata_predicate builds")
    def test_metadata_predicate(self) -> None:
        """Upstream: langgraph.checkpoint.sqlite.utils._metadata_predicate."""

    @pytest.mark.skip(
        reason="SqliteSaver's async methods raise NotImplementedError (use AsyncSqliteSaver); "
        "AgentMemorySaver implements them natively (tests/upstream/langgraph/"
        "test_saver_aiosqlite.py runs them)"
    )
    async def test_informative_async_errors(self) -> None:
        """Upstream: aget / aget_tuple / alist raise NotImplementedError naming AsyncSqliteSaver."""

    @pytest.mark.skip(reason="tests SqliteSaver's private _metadata_predicate key check")
    def test_metadata_predicate_sql_injection_prevention(self) -> None:
        """Upstream: _metadata_predicate refuses keys outside [A-Za-z0-9_.-]."""

    def test_checkpoint_search_sql_injection_prevention(self, saver: AgentMemorySaver) -> None:
        public: CheckpointMetadata = {"access": "public", "data": "public information"}  # type: ignore[typeddict-unknown-key]
        private: CheckpointMetadata = {
            "access": "private",
            "data": "secret information",
            "password": "secret123",
        }  # type: ignore[typeddict-unknown-key]
        saver.put(_cfg("thread-public"), empty_checkpoint(), public, {})
        saver.put(_cfg("thread-private"), empty_checkpoint(), private, {})
        normal = list(saver.list(None, filter={"access": "public"}))
        assert [t.metadata["access"] for t in normal] == ["public"]  # type: ignore[typeddict-item]
        # Upstream: SqliteSaver refuses the key with ValueError("Invalid filter key"). Here a
        # filter key is a bound parameter, never SQL text: it is a key nothing has.
        for key in MALICIOUS_KEYS:
            assert list(saver.list(None, filter={key: "dummy"})) == []
        assert len(list(saver.list(None))) == 2

    def test_limit_parameter_sql_injection_prevention(self, saver: AgentMemorySaver) -> None:
        for i in range(5):
            saver.put(_cfg(f"thread-{i}"), empty_checkpoint(), {"index": i}, {})  # type: ignore[typeddict-unknown-key]
        assert len(list(saver.list(None, limit=2))) == 2
        assert list(saver.list(None, limit=0)) == []
        assert len(list(saver.list(None, limit=None))) == 5

    def test_metadata_filter_keys_with_hyphens_and_digits(self, saver: AgentMemorySaver) -> None:
        metadata: dict[str, Any] = {
            "access-level": "public",
            "user": {"access-level": "nested", "123abc": "ok2"},
            "123abc": "ok",
        }
        saver.put(_cfg("thread-hyphen-digit"), empty_checkpoint(), metadata, {})  # type: ignore[arg-type]
        for filter in [
            {"access-level": "public"},
            {"user.access-level": "nested"},
            {"123abc": "ok"},
            {"user.123abc": "ok2"},
        ]:
            assert len(list(saver.list(None, filter=filter))) == 1, filter
