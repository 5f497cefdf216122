"""Storage failures surface as typed errors that say what to do, and health tells the truth."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import StorageFullError


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real disk that fills up (mounting needs root, which CI has)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 4 MiB tmpfs needs root; CI runs as root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    with path.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_disk_is_a_storage_full_error_and_health_says_so(tiny_disk: Path) -> None:
    """Regression: a full disk answered "may be damaged, retrying will not help" while
    health said healthy."""
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"\0" * 1_500_000)
    with AgentMemoryClient(tiny_disk / "m.sqlite3", embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        assert client.health_ping().storage["status"] == "healthy"
        stored = 0
        with pytest.raises(StorageFullError) as full:
            for n in range(10_000):
                session.add_memory(facts=[f"{n} " + "x" * 2000], async_processing=False)
                stored += 1
        assert full.value.retry_after and full.value.status_code == 503
        _fill(tiny_disk / "rest")  # nothing left at all, not even for a one-page write
        health = client.health_ping()
        assert health.storage["status"] == "unhealthy"
        assert "full" in health.storage["error"]
        assert health.overall_status != "healthy"
        assert session.list_memories(limit=1).total == stored  # reads still work
        ballast.unlink()  # the operator frees space: writes work again
        (tiny_disk / "rest").unlink()
        session.add_memory(facts=["after the disk was freed"], async_processing=False)
        assert client.health_ping().storage["status"] == "healthy"
