"""Exiting a script without ``close()``: a clean exit, queued work finished or kept queued.

Regression: with the default embedder (onnxruntime), a script that added memories with
``async_processing=True`` and simply ended aborted with SIGABRT ("terminate called without an
active exception") on most runs, because the processing thread was still inside the model
when the interpreter tore down; its blocks stayed ``processing``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from memory_integrations import AgentMemoryClient

_ADD_AND_EXIT = """
import sys, time
from memory_integrations import AgentMemoryClient
client = AgentMemoryClient(sys.argv[1])
session = client.get_or_create_user("u").get_or_create_session("s")
session.add_memory(facts=[f"fact number {i} about a trip to Lisbon" for i in range(200)])
time.sleep(0.3)  # exit while the worker is busy inside the model
"""


def _statuses(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM mi_blocks GROUP BY status"))


def _run(
    script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_ten_scripts_that_never_close_exit_cleanly_with_their_blocks_ready(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"
    for run in range(1, 11):
        result = _run(_ADD_AND_EXIT, str(path))
        assert result.returncode == 0, (run, result.returncode, result.stderr[-2000:])
        assert "terminate called" not in result.stderr
        assert _statuses(path) == {"ready": 200 * run}, run


_SLOW = """
import sys, time
from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder

class SlowEmbedder(HashingEmbedder):
    def embed_documents(self, texts):
        time.sleep(0.5)
        return super().embed_documents(texts)

client = AgentMemoryClient(sys.argv[1], embedder=SlowEmbedder())
session = client.get_or_create_user("u").get_or_create_session("s")
for i in range(20):
    session.add_memory(facts=[f"fact {i}"])
"""


def test_the_wait_at_exit_is_bounded_and_what_is_left_stays_queued(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"
    started = time.monotonic()
    result = _run(
        _SLOW,
        str(path),
        env={
            "MEMORY_INTEGRATIONS_EXIT_TIMEOUT": "1",
            "MEMORY_INTEGRATIONS_PROCESSING_BATCH_SIZE": "1",
        },
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    # 20 blocks at 0.5 s each would take 10 s; the exit waits about 1 s (+ one batch).
    assert elapsed < 8, elapsed
    statuses = _statuses(path)
    assert statuses.get("processing", 0) > 0, statuses
    assert sum(statuses.values()) == 20
    from memory_integrations.embedders import HashingEmbedder

    with AgentMemoryClient(path, embedder=HashingEmbedder()) as client:
        assert client.wait_until_processed(timeout=30)
    assert _statuses(path) == {"ready": 20}
