"""AgentMemoryStorage's boundary: every public call checks its arguments before it opens,
creates or writes anything, and only this package's typed errors come out.

The hostile-input net (tests/reliability/test_hostile_adapters.py) sweeps many values per
argument; these tests pin down the adapter's own choices: ``save`` is all or nothing,
``older_than=datetime.min`` deletes nothing, malformed stored fields read as defaults.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from crewai.memory.types import MemoryRecord

from memory_integrations import AgentMemoryClient
from memory_integrations.crewai import (
    META_KEY,
    AgentMemoryStorage,
    CrewMemory,
    agent_memory_for_crew,
    extract_result,
)
from memory_integrations.errors import (
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    ValidationError,
)

NOW = datetime.now(UTC).replace(tzinfo=None)


def rec(content: str, scope: str = "/", **fields: Any) -> MemoryRecord:
    return MemoryRecord(content=content, scope=scope, **fields)


def no_user(client: AgentMemoryClient, user_id: str) -> bool:
    try:
        client.get_user(user_id)
    except NotFoundError:
        return True
    return False


@pytest.mark.parametrize(
    "records",
    [
        pytest.param([rec("fine"), rec("bad \ud800")], id="second content a lone surrogate"),
        pytest.param([rec("fine"), rec("x", "/crew/a\x00b")], id="second scope with NUL"),
        pytest.param([rec("fine"), rec("x", metadata={"k": math.nan})], id="NaN metadata"),
        pytest.param([rec("fine"), rec("x", categories=["\udc00"])], id="surrogate category"),
        pytest.param([rec("fine"), rec("x", "/a" * 60)], id="scope 60 levels deep"),
        pytest.param([rec("fine"), {"content": "x"}], id="a dict"),
        pytest.param([rec("fine"), None], id="None"),
        pytest.param("not a list", id="a str"),
        pytest.param(rec("fine"), id="one record, not a list"),
    ],
)
def test_a_refused_save_creates_and_writes_nothing(client: AgentMemoryClient, records: Any) -> None:
    storage = AgentMemoryStorage(client, user_id="tenant")
    with pytest.raises(ValidationError):
        storage.save(records)
    assert no_user(client, "tenant")  # not even the user or its session was created


def test_a_mutated_record_is_checked_against_crewai_model(client: AgentMemoryClient) -> None:
    storage = AgentMemoryStorage(client, user_id="tenant")
    broken = rec("fine")
    broken.scope = 5  # type: ignore[assignment]  # pydantic does not check assignments
    with pytest.raises(ValidationError, match=r"records\[0\]"):
        storage.save([broken])
    built = MemoryRecord.model_construct(content="x", scope="/", importance=7.0)
    with pytest.raises(ValidationError):
        storage.update(built)
    assert no_user(client, "tenant")


def test_reads_never_create_the_user(client: AgentMemoryClient, embed: Any) -> None:
    storage = AgentMemoryStorage(client, user_id="newcomer")
    assert storage.count() == 0 and storage.list_records() == [] and storage.list_scopes() == []
    assert storage.get_record("x") is None and storage.search(embed("tea")) == []
    assert storage.get_scope_info("/crew").record_count == 0 and storage.list_categories() == {}
    assert storage.delete() == 0
    storage.touch_records(["x"])
    storage.reset()
    assert no_user(client, "newcomer")
    storage.save([rec("tea")])  # the first write creates it
    assert storage.count() == 1


def test_one_save_stores_records_of_several_agents(client: AgentMemoryClient) -> None:
    storage = AgentMemoryStorage(client, user_id="tenant")
    records = [
        rec("shared", "/crew/x"),
        rec("writer's", "/crew/x/agent/writer"),
        rec("reviewer's", "/crew/x/agent/reviewer"),
        rec("   "),  # blank: skipped
        rec("shared too", "/crew/y"),
    ]
    storage.save(records)
    blocks = client.get_user("tenant").list_memories().memory_blocks
    assert sorted((b.fact, b.agent_id) for b in blocks) == [
        ("reviewer's", "reviewer"),
        ("shared", None),
        ("shared too", None),
        ("writer's", "writer"),
    ]
    assert storage.count() == 4


@pytest.mark.parametrize("limit", [None, "10", True, False, 1.5, math.nan, math.inf, -1])
def test_limits_are_whole_numbers(crew_storage: AgentMemoryStorage, embed: Any, limit: Any) -> None:
    with pytest.raises(ValidationError, match="limit"):
        crew_storage.search(embed("tea"), limit=limit)
    with pytest.raises(ValidationError, match="limit"):
        crew_storage.list_records(limit=limit)


@pytest.mark.parametrize("min_score", [None, "0.5", True, math.nan])
def test_min_score_is_a_number(
    crew_storage: AgentMemoryStorage, embed: Any, min_score: Any
) -> None:
    with pytest.raises(ValidationError, match="min_score"):
        crew_storage.search(embed("tea"), min_score=min_score)


def test_search_arguments_of_any_size_never_overflow(
    crew_storage: AgentMemoryStorage, embed: Any
) -> None:
    crew_storage.save([rec("green tea")])
    query = embed("green tea")
    assert crew_storage.search(query, min_score=10**400) == []
    assert len(crew_storage.search(query, min_score=-(10**400))) == 1
    assert len(crew_storage.search(query, min_score=-math.inf, limit=10.0)) == 1
    assert len(crew_storage.search(tuple(query), limit=2**63 - 1)) == 1
    for vector in ("text", [["nested"]], [math.nan] * len(query), {"a": 1}, 5):
        with pytest.raises(ValidationError, match="query_embedding"):
            crew_storage.search(vector)  # type: ignore[arg-type]
    for bad in ({"k": math.nan}, ["not", "a", "dict"]):
        with pytest.raises(ValidationError, match="metadata_filter"):
            crew_storage.search(query, metadata_filter=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="categories"):
        crew_storage.search(query, categories="tea")  # type: ignore[arg-type]


def test_delete_checks_its_criteria(crew_storage: AgentMemoryStorage) -> None:
    old = rec("old", created_at=NOW - timedelta(days=40))
    crew_storage.save([old, rec("new")])
    with pytest.raises(ValidationError, match="older_than"):
        crew_storage.delete(older_than="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="record_ids"):
        crew_storage.delete(record_ids="abc")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="record_ids"):
        crew_storage.touch_records(old.id)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="record_id"):
        crew_storage.get_record(None)  # type: ignore[arg-type]
    assert crew_storage.count() == 2
    assert crew_storage.delete(older_than=datetime.min) == 0  # nothing is older
    assert crew_storage.delete(older_than=datetime.max) == 2
    crew_storage.save([old, rec("new")])
    iso = (NOW - timedelta(days=1)).isoformat()
    assert crew_storage.delete(older_than=iso) == 1  # type: ignore[arg-type]
    assert [r.content for r in crew_storage.list_records()] == ["new"]


def test_the_source_must_be_a_client_or_a_location(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=r"AgentMemoryClient.*pathlib\.Path"):
        AgentMemoryStorage(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        AgentMemoryStorage(b"memory.sqlite3")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="user_id"):
        AgentMemoryStorage(tmp_path / "memory.sqlite3", user_id="a/b")
    with pytest.raises(ConfigurationError, match="embedder"):
        AgentMemoryStorage(tmp_path / "memory.sqlite3", embedder="hashing")  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing was opened or created


def test_malformed_stored_fields_read_as_defaults(
    crew_storage: AgentMemoryStorage, client: AgentMemoryClient
) -> None:
    """A block with CrewAI annotations written by another writer never breaks CrewAI reads."""
    session = client.get_or_create_user("tenant").get_or_create_session("other")
    session.add_memory(
        facts=["written by hand"],
        annotations={"crewai_s0": "/", "crewai_id": "hand", "crewai_scope": "/"},
        metadata={
            META_KEY: {
                "importance": "high",
                "categories": "not a list",
                "private": "yes",
                "source": 5,
                "created_at": "0001-01-01T00:00:00+05:00",
                "last_accessed": 7,
            }
        },
        async_processing=False,
    )
    got = crew_storage.get_record("hand")
    assert got is not None
    assert (got.content, got.importance, got.categories, got.private, got.source) == (
        "written by hand",
        0.5,
        [],
        False,
        None,
    )
    assert [r.id for r in crew_storage.list_records()] == ["hand"]


def test_after_close_calls_raise_client_closed(client: AgentMemoryClient) -> None:
    storage = AgentMemoryStorage(client, user_id="tenant")
    client.close()
    with pytest.raises(ClientClosedError):
        storage.save([rec("x")])
    with pytest.raises(ClientClosedError):
        storage.count()


def test_memory_helpers_raise_typed_errors(client: AgentMemoryClient) -> None:
    with pytest.raises(ValidationError, match="crew_name"):
        agent_memory_for_crew(client, crew_name=5, analysis=False)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="CrewMemory"):
        agent_memory_for_crew(client, analysis=False, default_importance="very")
    with pytest.raises(ValidationError, match="CrewMemory"):
        CrewMemory(storage=AgentMemoryStorage(client), analysis="maybe")
    with pytest.raises(ValidationError, match="content"):
        extract_result(None)  # type: ignore[arg-type]
    memory = agent_memory_for_crew(client, crew_name="Crew", analysis=False)
    with pytest.raises(ValidationError, match="agent"):
        memory.for_agent("\ud800")
