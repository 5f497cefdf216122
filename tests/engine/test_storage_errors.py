"""Storage failures surface as typed errors that say what to do, and health tells the truth."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
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


# --- PostgreSQL: unreachable, refused, dropped ------------------------------------------------


def test_an_unreachable_postgres_is_a_typed_retryable_error_without_the_password() -> None:
    pytest.importorskip("psycopg")
    from memory_integrations.errors import ServiceUnavailableError

    with socket_closed_port() as port:
        url = f"postgresql://app:s3cret-pw@127.0.0.1:{port}/memory"
        with pytest.raises(ServiceUnavailableError, match="cannot reach PostgreSQL") as caught:
            AgentMemoryClient(url, embedder=HashingEmbedder())
    assert caught.value.retry_after and caught.value.service == "database"
    assert "s3cret-pw" not in str(caught.value)
    assert "host and port" in str(caught.value)


def test_an_unknown_postgres_database_is_a_configuration_error(postgres_server: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    from memory_integrations.errors import ConfigurationError

    parts = urlsplit(postgres_server)
    missing = urlunsplit(parts._replace(path="/no_such_database_here"))
    with pytest.raises(ConfigurationError, match="createdb"):
        AgentMemoryClient(missing, embedder=HashingEmbedder())


def test_dropped_postgres_connections_are_replaced_or_a_typed_retryable_error(
    postgres_server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import psycopg

    from memory_integrations.errors import ServiceUnavailableError
    from tests.conftest import store_location

    def terminate(where: str) -> None:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE pid <> pg_backend_pid() AND datname = current_database() AND {where}"
            )

    with store_location("postgres", tmp_path, request) as url:
        client = AgentMemoryClient(url, embedder=HashingEmbedder())
        try:
            user = client.get_or_create_user("ana")
            terminate("application_name = ''")  # every idle pooled connection (restart)
            assert user.list_sessions().total == 0  # replaced on checkout: no error at all

            with (
                pytest.raises(ServiceUnavailableError, match="dropped the connection"),
                client.database.transaction() as cur,
            ):
                cur.execute("SELECT pg_backend_pid()")
                terminate(f"pid = {cur.fetchone()[0]}")  # dropped mid-transaction
                cur.execute("SELECT 1")
            assert client.get_user("ana").user_id == "ana"  # the next call works
        finally:
            client.close()


@contextmanager
def socket_closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port
