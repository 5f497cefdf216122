"""Several processes on one store: exactly-once embedding and concurrent sweeps."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from memory_integrations import AgentMemoryClient, MemoryBlockStatus
from memory_integrations.embedders import HashingEmbedder

from ..conftest import Clock

WORKER = textwrap.dedent(
    """
    import sys, time
    from memory_integrations import AgentMemoryClient
    from memory_integrations.embedders import HashingEmbedder

    class LoggingEmbedder(HashingEmbedder):
        def embed_documents(self, texts):
            with open(sys.argv[2], "a") as log:
                for text in texts:
                    log.write(text + "\\n")
            time.sleep(0.01)  # slow enough for the two workers to overlap
            return super().embed_documents(texts)

    with AgentMemoryClient(sys.argv[1], embedder=LoggingEmbedder()) as client:
        deadline = time.time() + 60
        session = client.get_user("u").get_session("s")
        while time.time() < deadline:
            page = session.list_memories(limit=200)
            if all(b.status.value == "ready" for b in page.memory_blocks):
                break
            time.sleep(0.05)
    """
)


def test_pending_blocks_are_embedded_exactly_once_by_competing_workers(
    db_path: Any, tmp_path: Path
) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        engine: Any = client.backend
        engine._worker.stop(drain=False)
        engine._worker = None  # leave everything for the two worker processes
        session = client.create_user("u", "U").create_session("s")
        for i in range(0, 150, 50):
            session.add_memory(facts=[f"fact {n}" for n in range(i, i + 50)])
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log = tmp_path / "embedded.log"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(db_path), str(log)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    embedded = log.read_text().splitlines()
    assert sorted(embedded) == sorted(f"fact {n}" for n in range(150))  # each exactly once
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        page = client.get_user("u").get_session("s").list_memories(limit=200)
        assert {b.status for b in page.memory_blocks} == {MemoryBlockStatus.READY}


def test_sweeps_from_several_clients_delete_each_block_once(db_path: Any, clock: Clock) -> None:
    import threading

    with AgentMemoryClient(db_path, embedder=HashingEmbedder(), clock=clock) as first:
        session = first.create_user("u", "U").create_session("s")
        session.add_memory(
            facts=[f"short {i}" for i in range(40)], memory_block_ttl=10, async_processing=False
        )
        session.add_memory(facts=["long lived"], async_processing=False)
        clock.advance(11)
        with AgentMemoryClient(db_path, embedder=HashingEmbedder(), clock=clock) as second:
            results: list[dict[str, int]] = []
            threads = [
                threading.Thread(target=lambda c=c: results.append(c.sweep_expired()))
                for c in (first, second, first, second)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert sum(r["expired"] for r in results) == 40
        assert [b.fact for b in session.list_memories().memory_blocks] == ["long lived"]


def test_one_users_index_load_and_long_write_do_not_stall_other_users(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Regression: a heavy user's first search (loading its index) and a long write held
    the only connection, so another user's count waited for seconds."""
    import threading

    from memory_integrations import retrieval

    with AgentMemoryClient(tmp_path / "m.sqlite3", embedder=HashingEmbedder()) as client:
        heavy = client.create_user("heavy", "H").create_session("s")
        heavy.add_memory(facts=[f"heavy fact {i}" for i in range(50)], async_processing=False)
        light = client.create_user("light", "L").create_session("s")
        light.add_memory(facts=["light fact"], async_processing=False)
        light.get_memory(query="light")  # the light user's index is loaded

        loading, release = threading.Event(), threading.Event()
        original = retrieval.SearchIndex.append

        def slow_append(index: Any, blocks: list[Any]) -> None:
            if any("heavy" in b.text for b in blocks):
                loading.set()
                assert release.wait(30)
            original(index, blocks)

        monkeypatch.setattr(retrieval.SearchIndex, "append", slow_append)
        search = threading.Thread(target=lambda: heavy.get_memory(query="heavy fact"))
        search.start()
        try:
            assert loading.wait(30)  # the heavy user's index load is under way
            assert light.count_memories() == 1
            assert light.get_memory(query="light").count == 1
            assert client.get_user("light").list_memories().total == 1
        finally:
            release.set()
            search.join(30)

        database: Any = client.database
        writing, done = threading.Event(), threading.Event()

        def long_write() -> None:
            with database.transaction() as cur:
                cur.execute("UPDATE mi_users SET name = 'busy' WHERE user_id = 'heavy'")
                writing.set()
                assert done.wait(30)

        writer = threading.Thread(target=long_write)
        writer.start()
        try:
            assert writing.wait(30)  # a write transaction is open in this process
            assert light.count_memories() == 1
            assert light.get_memory(query="light fact").memory_blocks[0].fact == "light fact"
        finally:
            done.set()
            writer.join(30)
        assert client.get_user("heavy").name == "busy"


def test_deletes_racing_the_worker_never_deadlock(db_path: Any) -> None:
    """Deleting a user's blocks while the worker completes others of the same user: both
    take the user's row before any block row, so neither waits on the other in a cycle
    (on PostgreSQL the opposite order was a deadlock, seen in CI)."""
    import threading
    import time

    errors: list[BaseException] = []
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        stop = time.monotonic() + 2.0

        def keep_deleting() -> None:
            try:
                while time.monotonic() < stop:
                    session.delete_memory("all")
            except BaseException as exc:
                errors.append(exc)

        deleter = threading.Thread(target=keep_deleting)
        deleter.start()
        added = 0
        while time.monotonic() < stop:
            session.add_memory(facts=[f"fact {added}", f"other {added}"])
            added += 1
        deleter.join()
        assert client.wait_until_processed(30)
        assert errors == []
        assert added > 10
