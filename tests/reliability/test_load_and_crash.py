"""Bounded load and crash tests on both storages (the full-size runs are benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient, MemoryBlockStatus
from memory_integrations.bench import run_load
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.storage import SQLiteDatabase


def test_concurrent_writers_lose_nothing(db_path: Any) -> None:
    figures = run_load(str(db_path), processes=4, ops=150)
    assert figures["lost_acknowledged_writes"] == 0
    assert figures["wrong_or_unexpected_blocks"] == 0
    assert figures["errors_surfaced_to_callers"] == 0, figures["error_samples"]
    assert figures["acknowledged_writes"] > 200


CRASHING_WRITER = textwrap.dedent(
    """
    import sys
    from memory_integrations import AgentMemoryClient
    from memory_integrations.embedders import HashingEmbedder

    class SlowEmbedder(HashingEmbedder):
        def embed_documents(self, texts):
            import time
            time.sleep(0.2)  # keep blocks in 'processing' when the kill comes
            return super().embed_documents(texts)

    client = AgentMemoryClient(sys.argv[1], embedder=SlowEmbedder())
    session = client.get_user("u").get_session("s")
    for i in range(100000):
        block_id = session.add_memory(facts=[f"fact {i}"]).block_ids[0]
        print(block_id, flush=True)  # acknowledged
    """
)


def test_kill_9_mid_ingest_loses_no_acknowledged_block(
    db_path: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short leases, so blocks the killed process had claimed are reclaimed within the test.
    monkeypatch.setenv("MEMORY_INTEGRATIONS_LEASE_SECONDS", "2")
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        client.create_user("u", "U").create_session("s")
    script = tmp_path / "writer.py"
    script.write_text(CRASHING_WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged = []
    while len(acknowledged) < 300:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer died"
        acknowledged.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    acknowledged += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    if isinstance(db_path, Path):
        assert SQLiteDatabase(db_path).integrity_check() == "ok"
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.get_user("u").get_session("s")
        statuses: dict[str, MemoryBlockStatus] = {}
        offset = 0
        while True:
            page = session.list_memories(limit=200, offset=offset)
            statuses.update({b.block_id: b.status for b in page.memory_blocks})
            offset += page.count
            if not page.has_more:
                break
        assert set(acknowledged) <= set(statuses)
        assert MemoryBlockStatus.PROCESSING in statuses.values()  # the crash left work undone
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            client.wait_until_processed(5)
            pending = session.count_memories()
            ready = session.search_memory(filters={"session_ids": "all"}).count
            if ready == pending:
                break
            time.sleep(0.2)
        assert session.search_memory().count == len(statuses)  # every block reached ready
