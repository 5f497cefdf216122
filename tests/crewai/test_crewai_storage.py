"""AgentMemoryStorage called directly, as CrewAI's Memory and flows call it."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from crewai.memory.storage.backend import StorageBackend
from crewai.memory.types import MemoryRecord

from memory_integrations import AgentMemoryClient
from memory_integrations.crewai import META_KEY, AgentMemoryEmbedder, AgentMemoryStorage
from memory_integrations.crewai._storage import min_cosine, score_of
from memory_integrations.errors import ConfigurationError

NOW = datetime.now(UTC).replace(tzinfo=None)


def rec(content: str, scope: str = "/", **fields: Any) -> MemoryRecord:
    return MemoryRecord(content=content, scope=scope, **fields)


def contents(records: list[MemoryRecord]) -> list[str]:
    return [r.content for r in records]


def test_records_round_trip_and_are_plain_engine_blocks(
    crew_storage: AgentMemoryStorage, client: AgentMemoryClient
) -> None:
    assert isinstance(crew_storage, StorageBackend)
    created = NOW - timedelta(days=3, microseconds=17)
    original = rec(
        "Alice prefers teal notebooks",
        "/crew/support/agent/researcher",
        categories=["preferences", "customers"],
        metadata={"topics": ["notebooks"], "n": 3},
        importance=0.9,
        created_at=created,
        last_accessed=created + timedelta(hours=1),
        source="researcher",
        private=True,
        embedding=[0.5] * 7,
    )
    crew_storage.save([original, rec("   ")])  # blank content: nothing to store

    got = crew_storage.get_record(original.id)
    assert got is not None
    assert got.model_dump() == original.model_dump()  # every field but the embedding
    assert got.embedding == [0.5] * 7  # the crew's embedding is kept too
    assert crew_storage.get_record("no-such-id") is None
    assert crew_storage.count() == 1

    # The same record, seen by any other adapter through the client:
    (block,) = client.get_user("tenant").list_memories().memory_blocks
    assert block.session_id == "crewai"
    assert block.fact == "Alice prefers teal notebooks"
    assert block.agent_id == "researcher"
    assert block.created_at is not None
    assert abs(block.created_at.replace(tzinfo=None) - created) < timedelta(milliseconds=1)
    assert block.annotations == {
        "crewai_id": original.id,
        "crewai_scope": "/crew/support/agent/researcher",
        "crewai_private": "true",
        "crewai_s0": "/",
        "crewai_s1": "/crew",
        "crewai_s2": "/crew/support",
        "crewai_s3": "/crew/support/agent",
        "crewai_s4": "/crew/support/agent/researcher",
        "crewai_vector": "true",
        "crewai_dim": "7",
    }
    assert block.metadata is not None
    assert block.metadata["topics"] == ["notebooks"]
    assert block.metadata[META_KEY]["categories"] == ["preferences", "customers"]


def test_search_ranks_by_score_and_honours_every_filter(
    crew_storage: AgentMemoryStorage, embed: Any
) -> None:
    crew_storage.save(
        [
            rec("alpha beta gamma", "/crew/a", categories=["x"], metadata={"lang": "en"}),
            rec("alpha beta", "/crew/a/agent/r", categories=["y"], metadata={"lang": "de"}),
            rec("alpha", "/crew/ab", categories=["x", "z"], metadata={"lang": "en", "v": 2}),
            rec("delta epsilon", "/crew/a", categories=["z"], metadata={"v": 2}),
            rec("alpha beta gamma", "/other"),
        ]
    )
    query = embed("alpha beta gamma")

    hits = crew_storage.search(query, limit=10)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(1 / 3 <= s <= 1 for s in scores)
    assert hits[0][0].content == "alpha beta gamma" and math.isclose(hits[0][1], 1.0, abs_tol=1e-4)
    assert contents([r for r, _ in crew_storage.search(query, limit=2)]) == ["alpha beta gamma"] * 2

    # Scope prefixes are paths: /crew/a holds /crew/a/agent/r, not /crew/ab.
    in_a = {r.content for r, _ in crew_storage.search(query, scope_prefix="/crew/a/")}
    assert in_a == {"alpha beta gamma", "alpha beta", "delta epsilon"}
    assert {r.scope for r, _ in crew_storage.search(query, scope_prefix="crew")} == {
        "/crew/a",
        "/crew/a/agent/r",
        "/crew/ab",
    }
    assert crew_storage.search(query, scope_prefix="/crew/a/agent/r/deeper") == []

    # Categories match any; metadata_filter matches every pair exactly (not substrings).
    by_cat = crew_storage.search(query, categories=["y", "z"])
    assert {r.content for r, _ in by_cat} == {"alpha beta", "alpha", "delta epsilon"}
    assert contents([r for r, _ in crew_storage.search(query, metadata_filter={"lang": "en"})]) == [
        "alpha beta gamma",
        "alpha",
    ]
    assert {r.content for r, _ in crew_storage.search(query, metadata_filter={"v": 2})} == {
        "alpha",
        "delta epsilon",
    }
    assert crew_storage.search(query, metadata_filter={"lang": "e"}) == []
    both = crew_storage.search(
        query, scope_prefix="/crew", categories=["x"], metadata_filter={"v": 2}
    )
    assert contents([r for r, _ in both]) == ["alpha"]

    # min_score keeps exactly the scores at or above it.
    cut = scores[2]
    kept = crew_storage.search(query, min_score=cut)
    assert [s for _, s in kept] == [s for s in scores if s >= cut]
    assert crew_storage.search(query, min_score=1.01) == []
    assert crew_storage.search(query, limit=0) == []


def test_search_by_any_agent_memory_embedder_uses_the_engine(
    crew_storage: AgentMemoryStorage,
) -> None:
    crew_storage.save([rec("some fact")])
    other = AgentMemoryEmbedder("hashing")  # any AgentMemoryEmbedder works
    assert contents([r for r, _ in crew_storage.search(other(["some fact"])[0])]) == ["some fact"]


def test_score_scales() -> None:
    # "lancedb": 1 / (1 + L2) between unit vectors, as CrewAI's default storage scores.
    assert score_of(1.0, "lancedb") == 1.0
    assert math.isclose(score_of(0.0, "lancedb"), 1 / (1 + math.sqrt(2)))
    assert math.isclose(score_of(-1.0, "lancedb"), 1 / 3)
    assert score_of(-0.5, "cosine") == 0.0 and score_of(0.42, "cosine") == 0.42
    for scale in ("lancedb", "cosine"):
        for cos in (-0.3, 0.1, 0.5, 0.93) if scale == "lancedb" else (0.1, 0.5, 0.93):
            threshold = min_cosine(score_of(cos, scale), scale)  # type: ignore[arg-type]
            assert threshold is not None and math.isclose(threshold, cos, abs_tol=1e-9)
    assert min_cosine(0.3, "lancedb") is None and min_cosine(0.0, "cosine") is None


def test_cosine_scale(client: AgentMemoryClient) -> None:
    storage = AgentMemoryStorage(client, score_scale="cosine")
    storage.save([rec("red green blue"), rec("cyan magenta")])
    hits = storage.search(storage.embedder(["red green blue"])[0])
    assert math.isclose(hits[0][1], 1.0, abs_tol=1e-4)
    assert hits[1][1] == 0.0  # no shared words: cosine 0 (or below), clipped to 0
    with pytest.raises(ConfigurationError, match="score_scale"):
        AgentMemoryStorage(client, score_scale="l2")  # type: ignore[arg-type]


def test_delete_combines_its_criteria_and_stays_within_crewai_records(
    crew_storage: AgentMemoryStorage, client: AgentMemoryClient
) -> None:
    old = NOW - timedelta(days=40)
    a = rec("a", "/crew/x", categories=["c1"], metadata={"k": "v"}, created_at=old)
    b = rec("b", "/crew/x/agent/w", categories=["c2"], metadata={"k": "v"})
    c = rec("c", "/crew/y", categories=["c1"], created_at=old)
    d = rec("d", "/crew/y", categories=["c2"], metadata={"k": "w"})
    crew_storage.save([a, b, c, d])
    foreign = client.get_user("tenant").get_or_create_session("chat")
    foreign.add_memory(facts=["written by another adapter"], async_processing=False)

    assert crew_storage.delete(record_ids=[a.id, c.id], scope_prefix="/crew/y") == 1  # c only
    assert crew_storage.get_record(a.id) is not None and crew_storage.get_record(c.id) is None
    assert crew_storage.delete(record_ids=[]) == 0
    assert crew_storage.delete(older_than=NOW - timedelta(days=1)) == 1  # a
    assert crew_storage.delete(categories=["c2"], metadata_filter={"k": "w"}) == 1  # d
    assert contents(crew_storage.list_records()) == ["b"]
    crew_storage.save([rec("e", "/crew/x")])
    assert crew_storage.delete(scope_prefix="/crew/x/agent") == 1  # b
    assert crew_storage.delete() == 1  # e: everything of CrewAI's ...
    assert crew_storage.count() == 0
    assert foreign.count_memories() == 1  # ... and nothing else


def test_update_replaces_the_record_with_the_same_id(
    crew_storage: AgentMemoryStorage, client: AgentMemoryClient, embed: Any
) -> None:
    first = rec("Bob likes red pens", "/crew/x", categories=["pens"], importance=0.4)
    crew_storage.save([first])
    (before,) = client.get_user("tenant").list_memories().memory_blocks

    changed = first.model_copy(
        update={"content": "Bob likes blue pens", "categories": ["ink"], "importance": 0.8}
    )
    crew_storage.update(changed)
    got = crew_storage.get_record(first.id)
    assert got is not None and got.model_dump() == changed.model_dump()
    (after,) = client.get_user("tenant").list_memories().memory_blocks
    assert after.block_id == before.block_id  # updated in place, re-embedded
    assert contents([r for r, _ in crew_storage.search(embed("blue pens"), limit=1)]) == [
        "Bob likes blue pens"
    ]

    moved = changed.model_copy(update={"scope": "/crew/x/agent/writer"})
    crew_storage.update(moved)  # the agent changes: the block is replaced
    (block,) = client.get_user("tenant").list_memories().memory_blocks
    assert block.agent_id == "writer" and block.annotations["crewai_id"] == first.id
    assert crew_storage.list_scopes("/crew/x") == ["/crew/x/agent"]

    fresh = rec("new via update", "/crew/x")
    crew_storage.update(fresh)  # unknown id: stored
    assert crew_storage.get_record(fresh.id) is not None
    assert crew_storage.count() == 2


def test_listing_scopes_categories_and_reset(crew_storage: AgentMemoryStorage) -> None:
    crew_storage.save(
        [
            rec("r0", "/crew/x", categories=["a"], created_at=NOW - timedelta(days=3)),
            rec("r1", "/crew/x/agent/w", categories=["a", "b"], created_at=NOW - timedelta(days=1)),
            rec("r2", "/crew/x/topics/t", categories=["b"], created_at=NOW - timedelta(days=2)),
            rec("r3", "/crew/y", created_at=NOW),
            rec("r4", "/", categories=["c"], created_at=NOW - timedelta(days=9)),
        ]
    )
    assert contents(crew_storage.list_records()) == ["r3", "r1", "r2", "r0", "r4"]
    assert contents(crew_storage.list_records("/crew/x", limit=2, offset=1)) == ["r2", "r0"]
    assert crew_storage.list_records(limit=0) == []

    info = crew_storage.get_scope_info("/crew/x/")
    assert info.path == "/crew/x" and info.record_count == 3
    assert info.categories == ["a", "b"]
    assert info.child_scopes == ["/crew/x/agent", "/crew/x/topics"]
    assert info.oldest_record is not None and info.newest_record is not None
    assert info.newest_record - info.oldest_record == timedelta(days=2)
    empty = crew_storage.get_scope_info("/nothing")
    assert empty.record_count == 0 and empty.child_scopes == [] and empty.oldest_record is None

    assert crew_storage.list_scopes() == ["/crew"]
    assert crew_storage.list_scopes("/crew") == ["/crew/x", "/crew/y"]
    assert crew_storage.list_scopes("/crew/x/agent/w") == []
    assert crew_storage.list_categories() == {"a": 2, "b": 2, "c": 1}
    assert crew_storage.list_categories("/crew/x/agent") == {"a": 1, "b": 1}
    assert (
        crew_storage.count(),
        crew_storage.count("/crew"),
        crew_storage.count("/crew/x/topics"),
    ) == (5, 4, 1)

    crew_storage.reset("/crew/x")
    assert contents(crew_storage.list_records()) == ["r3", "r4"]
    crew_storage.reset()
    assert crew_storage.count() == 0


def test_touch_records_refreshes_last_accessed(crew_storage: AgentMemoryStorage) -> None:
    record = rec("touch me", last_accessed=NOW - timedelta(days=5))
    crew_storage.save([record])
    crew_storage.touch_records([record.id, "missing"])
    got = crew_storage.get_record(record.id)
    assert got is not None
    assert got.last_accessed > NOW - timedelta(minutes=1)
    assert got.created_at == record.created_at


async def test_async_methods_share_the_sync_implementation(
    crew_storage: AgentMemoryStorage, embed: Any
) -> None:
    record = rec("async fact", "/crew/x")
    await crew_storage.asave([record])
    hits = await crew_storage.asearch(embed("async fact"), scope_prefix="/crew")
    assert [(r.id, r.content) for r, _ in hits] == [(record.id, "async fact")]
    assert await crew_storage.adelete(record_ids=[record.id]) == 1
    assert crew_storage.count() == 0


def test_users_isolate_and_sessions_share(client: AgentMemoryClient, embed: Any) -> None:
    crew_a = AgentMemoryStorage(client, user_id="tenant", session_id="run-1")
    crew_b = AgentMemoryStorage(client, user_id="tenant", session_id="run-2")
    other = AgentMemoryStorage(client, user_id="other-tenant")
    crew_a.save([rec("shared across sessions")])
    hits = crew_b.search(embed("shared across sessions"))
    assert contents([r for r, _ in hits]) == ["shared across sessions"]
    assert crew_b.delete(record_ids=[hits[0][0].id]) == 1  # deletes in run-1
    crew_a.save([rec("tenant fact")])
    assert other.count() == 0 and other.search(embed("tenant fact")) == []

    client.delete_user("tenant")  # deleted under the storages: they start afresh
    assert crew_b.count() == 0
    crew_a.save([rec("after the delete")])
    assert contents(crew_b.list_records()) == ["after the delete"]


def test_storage_can_own_its_client(tmp_path: Path) -> None:
    path = tmp_path / "own.sqlite3"
    storage = AgentMemoryStorage(path)
    storage.save([rec("kept on disk")])
    storage.close()
    with AgentMemoryClient(path) as client:
        assert AgentMemoryStorage(client).count() == 1


def test_embedder_is_a_local_crewai_embedder(default_client: AgentMemoryClient) -> None:
    storage = AgentMemoryStorage(default_client)
    vectors = storage.embedder(["Alice prefers teal notebooks", "Bob likes red pens"])
    assert isinstance(vectors, list) and len(vectors) == 2
    assert all(isinstance(v, list) and len(v) == 384 for v in vectors)
    assert all(isinstance(x, float) for x in vectors[0])
    assert storage.embedder([]) == []
    assert storage.embedder.embedder is default_client.backend.embedder  # type: ignore[attr-defined]


def test_import_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['crewai'] = None\n"
        "try:\n    import memory_integrations.crewai\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert 'pip install "memory-integrations[crewai]"' in out


def test_agent_views_keep_private_records_private(crew_storage: AgentMemoryStorage) -> None:
    writer = crew_storage.for_agent("writer")
    shared = rec("shared fact", "/crew/x")
    mine = rec("writer's own note", "/crew/x/agent/writer")
    crew_storage.save([shared])
    writer.save([mine])

    as_crew = crew_storage.get_record(mine.id)
    assert as_crew is not None and (as_crew.private, as_crew.source) == (True, "writer")
    as_writer = writer.get_record(mine.id)
    assert as_writer is not None and not as_writer.private  # visible to the writer's recall
    as_reviewer = crew_storage.for_agent("reviewer").get_record(mine.id)
    assert as_reviewer is not None and as_reviewer.private

    # Updating through the view keeps privacy as it was stored, for both kinds of record.
    writer.update(as_writer.model_copy(update={"content": "writer's revised note"}))
    writer.update(shared.model_copy(update={"content": "shared fact, revised"}))
    revised = crew_storage.get_record(mine.id)
    assert revised is not None and revised.private and revised.content == "writer's revised note"
    still_shared = crew_storage.get_record(shared.id)
    assert still_shared is not None and not still_shared.private and still_shared.source is None

    assert copy.deepcopy(writer) is writer  # a handle on a shared store is never duplicated
    writer.close()  # a view never closes the client it shares
    assert crew_storage.count() == 2
