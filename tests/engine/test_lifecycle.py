"""TTL, retention, async processing, restarts and several processes on one file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, MemoryBlockStatus
from memory_integrations.embedders import HashingEmbedder, Vectors
from memory_integrations.errors import RateLimitError, ValidationError
from memory_integrations.storage import SQLiteDatabase

from ..conftest import Clock


class FailingEmbedder(HashingEmbedder):
    """Fails on every text containing FAIL: a model that cannot embed some input."""

    def __init__(self) -> None:
        super().__init__(384)
        self.calls = 0

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        if any("FAIL" in t for t in texts):
            raise RuntimeError("model crashed")
        return super().embed_documents(texts)


# --- TTL -------------------------------------------------------------------------------


def test_ttl_precedence_block_over_session_over_global(db_path: Any, clock: Clock) -> None:
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), clock=clock, memory_block_ttl=1000
    ) as client:
        user = client.create_user("u", "U")
        plain = user.create_session("plain")
        short = user.create_session("short", memory_blocks_ttl=100)
        plain.add_memory(facts=["global ttl"], async_processing=False)
        short.add_memory(facts=["session ttl"], async_processing=False)
        short.add_memory(facts=["block ttl"], memory_block_ttl=10, async_processing=False)
        short.add_memory(facts=["forever"], memory_block_ttl=0, async_processing=False)

        def visible() -> set[str]:
            return {b.fact for b in user.list_memories(limit=200).memory_blocks if b.fact}

        assert visible() == {"global ttl", "session ttl", "block ttl", "forever"}
        clock.advance(11)
        assert visible() == {"global ttl", "session ttl", "forever"}
        clock.advance(90)
        assert visible() == {"global ttl", "forever"}
        clock.advance(900)
        assert visible() == {"forever"}


def test_expired_blocks_are_never_returned_even_before_the_sweep(
    clocked_client: AgentMemoryClient, clock: Clock
) -> None:
    session = clocked_client.create_user("u", "U").create_session("s")
    block_id = session.add_memory(
        facts=["short lived pizza"], memory_block_ttl=5, async_processing=False
    ).block_ids[0]
    assert session.search_memory(query="pizza").count == 1
    clock.advance(6)
    assert session.search_memory(query="pizza").count == 0
    assert session.search_memory().count == 0
    assert session.list_memories().total == 0
    assert session.count_memories() == 0
    with pytest.raises(Exception, match="expired"):
        session.get_memory_block(block_id)
    with pytest.raises(Exception, match="expired"):
        session.update_memory(block_id=block_id, fact="revive")
    database: Any = clocked_client.database
    with database.read() as cur:  # still stored until the sweeper runs
        assert cur.execute("SELECT count(*) FROM mi_blocks").fetchone()[0] == 1
    assert clocked_client.sweep_expired()["expired"] == 1
    with database.read() as cur:
        assert cur.execute("SELECT count(*) FROM mi_blocks").fetchone()[0] == 0


def test_modify_ttl_forms_and_their_scope(clocked_client: AgentMemoryClient, clock: Clock) -> None:
    user = clocked_client.create_user("u", "U")
    s1, s2 = user.create_session("s1"), user.create_session("s2")
    a, b = s1.add_memory(facts=["a", "b"], async_processing=False).block_ids
    s2.add_memory(facts=["c"], async_processing=False)
    other = clocked_client.create_user("v", "V").create_session("s1")
    other.add_memory(facts=["other user's"], async_processing=False)
    assert user.modify_ttl(new_ttl=100)["updated_count"] == 3
    user.modify_ttl(new_ttl=10, session_id="s1")
    user.modify_ttl(new_ttl=0, session_id="s1", block_ids=[a])
    clock.advance(50)
    assert {m.fact for m in user.list_memories().memory_blocks} == {"a", "c"}
    clock.advance(100)
    assert {m.fact for m in user.list_memories().memory_blocks} == {"a"}
    assert other.list_memories().total == 1
    with pytest.raises(ValidationError, match="session_id"):
        user.modify_ttl(new_ttl=5, block_ids=[b])
    with pytest.raises(ValidationError):
        user.modify_ttl(new_ttl=-5)


def test_retention_policy_applies_by_creation_time(
    clocked_client: AgentMemoryClient, clock: Clock
) -> None:
    from datetime import UTC, datetime, timedelta

    from memory_integrations import ChatMessage

    session = clocked_client.create_user("u", "U").create_session("s")
    now = datetime.fromtimestamp(clock.now, UTC)
    session.add_memory(
        facts=["old fact"], created_at=now - timedelta(days=40), async_processing=False
    )
    session.add_memory(facts=["new fact"], async_processing=False)
    session.add_memory(
        messages=[ChatMessage(user_content="old chat")],
        created_at=now - timedelta(days=10),
        async_processing=False,
    )
    config = clocked_client.update_retention_config(message_days=7, memory_days=30)
    assert (config.message_days, config.memory_days) == (7, 30)
    assert clocked_client.get_retention_config().message_days == 7
    removed = clocked_client.sweep_expired()
    assert removed["messages_past_retention"] == 1 and removed["facts_past_retention"] == 1
    assert [b.fact for b in session.list_memories().memory_blocks] == ["new fact"]
    clocked_client.update_retention_config(memory_days=None)
    assert clocked_client.get_retention_config().message_days == 7
    with pytest.raises(ValidationError):
        clocked_client.update_retention_config(message_days=-1)


# --- async processing -------------------------------------------------------------------


def test_three_failed_tries_mark_extraction_failed(db_path: Any) -> None:
    embedder = FailingEmbedder()
    with AgentMemoryClient(db_path, embedder=embedder) as client:
        session = client.create_user("u", "U").create_session("s")
        bad = session.add_memory(facts=["this will FAIL"]).block_ids[0]
        good = session.add_memory(facts=["this is fine"]).block_ids[0]
        assert client.wait_until_processed(20)
        bad_block = session.get_memory_block(bad)
        assert bad_block.status is MemoryBlockStatus.EXTRACTION_FAILED
        assert bad_block.fail_count == 3
        assert session.get_memory_block(good).status is MemoryBlockStatus.READY
        assert [b.block_id for b in session.search_memory(query="this").memory_blocks] == [good]
        # the guide's retry path: update with async_processing=True
        session.update_memory(block_id=bad, fact="now it works")
        assert client.wait_until_processed(20)
        assert session.get_memory_block(bad).status is MemoryBlockStatus.READY
        assert client.health_ping().async_batch_processor.statistics["total_failed"] == 1


def test_sync_add_that_cannot_embed_writes_nothing(db_path: Any) -> None:
    from memory_integrations.errors import EmbeddingError

    with AgentMemoryClient(db_path, embedder=FailingEmbedder()) as c:
        session = c.create_user("u", "U").create_session("s")
        with pytest.raises(EmbeddingError, match="model crashed"):
            session.add_memory(facts=["please FAIL"], async_processing=False)
        assert session.list_memories().total == 0


def test_full_queue_raises_capacity_error_before_writing(db_path: Any) -> None:
    from memory_integrations import Settings

    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), settings=Settings(queue_max_size=5)
    ) as client:
        engine: Any = client.backend
        engine._worker.stop(drain=False)
        engine._worker = None
        session = client.create_user("u", "U").create_session("s")
    # reopen with a worker that is never given time: fill the queue past its size
    with AgentMemoryClient(
        db_path, embedder=HashingEmbedder(), settings=Settings(queue_max_size=5)
    ) as client:
        session = client.get_user("u").get_session("s")
        engine = client.backend
        with engine._worker._cond:  # hold the worker so the queue cannot drain
            session.add_memory(facts=[f"f{i}" for i in range(5)])
            with pytest.raises(RateLimitError) as info:
                session.add_memory(facts=["one too many"])
        assert info.value.retry_after is not None and info.value.retry_after > 0
        assert info.value.category == "capacity"
        assert client.wait_until_processed(10)
        assert session.list_memories().total == 5


def test_restart_requeues_processing_blocks(db_path: Any) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        engine: Any = client.backend
        engine._worker.stop(drain=False)
        engine._worker = None  # simulate a process dying before embedding
        session = client.create_user("u", "U").create_session("s")
        ids = session.add_memory(facts=["first", "second"]).block_ids
        assert {b.status for b in session.list_memories().memory_blocks} == {
            MemoryBlockStatus.PROCESSING
        }
        assert engine.pending_count() == 2
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        assert client.wait_until_processed(20)
        session = client.get_user("u").get_session("s")
        for _ in range(100):
            if all(session.get_memory_block(i).status is MemoryBlockStatus.READY for i in ids):
                break
            client.wait_until_processed(1)
            import time

            time.sleep(0.05)
        assert all(session.get_memory_block(i).status is MemoryBlockStatus.READY for i in ids)
        stats = client.health_ping().async_batch_processor.statistics
        assert stats["total_recovered"] == 2
        assert client.backend.pending_count() == 0


# --- several processes on one file ------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from memory_integrations import AgentMemoryClient
    from memory_integrations.embedders import HashingEmbedder
    path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with AgentMemoryClient(path, embedder=HashingEmbedder()) as client:
        session = client.get_user("shared").get_session("s")
        ids = []
        for i in range(n):
            ids += session.add_memory(facts=[f"{name} fact {i}"],
                                      async_processing=(i % 2 == 0)).block_ids
        client.wait_until_processed(60)
    print(len(ids))
    """
)


def test_two_processes_write_the_same_file(db_path: Any, tmp_path: Path) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        client.create_user("shared", "S").create_session("s")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(db_path), name, "150"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "150"
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.get_user("shared").get_session("s")
        assert client.wait_until_processed(30)
        blocks = []
        for offset in range(0, 300, 200):
            blocks += session.list_memories(limit=200, offset=offset).memory_blocks
        assert len(blocks) == 300
        assert {b.status for b in blocks} == {MemoryBlockStatus.READY}
        found = session.search_memory(query="p2 fact 77").memory_blocks
        assert found[0].fact == "p2 fact 77"
    if isinstance(db_path, Path):
        assert SQLiteDatabase(db_path).integrity_check() == "ok"


# --- the async client --------------------------------------------------------------------


async def test_async_client_has_the_same_surface(db_path: Any) -> None:
    from memory_integrations import AsyncSessionResource, AsyncUserResource
    from memory_integrations.client import SessionResource, UserResource

    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(AgentMemoryClient) - {"backend", "database"} <= public(AsyncAgentMemoryClient)
    assert public(UserResource) - {"model"} <= public(AsyncUserResource)
    assert public(SessionResource) - {"model"} <= public(AsyncSessionResource)

    async with AsyncAgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        user = await client.create_user("u", "U")
        assert user.user_id == "u"
        session = await user.create_session("s", annotations={"k": "v"})
        assert session.annotations == {"k": "v"}
        ids = (
            await session.add_memory(facts=["async fact about tea"], async_processing=False)
        ).block_ids
        found = await session.search_memory(query="tea")
        assert [b.block_id for b in found.memory_blocks] == ids
        page = await user.list_memories()
        assert page.total == 1
        ended = await session.end()
        assert ended.end_time is not None
        assert (await client.list_users()).total == 1
        await client.delete_user("u")
        assert (await client.list_users()).total == 0


def test_vectors_are_normalised_float32(client: AgentMemoryClient) -> None:
    session = client.create_user("u", "U").create_session("s")
    session.add_memory(facts=["vector check"], async_processing=False)
    engine: Any = client.backend
    with engine.database.read() as cur:
        (row,) = engine._store.indexed_blocks(cur, "u", 0)
    vector = np.frombuffer(row[-1], dtype=np.float32)
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
