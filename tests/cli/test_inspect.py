"""``users``, ``sessions``, ``blocks`` and ``search`` on a file, PostgreSQL and a server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.cli import ExitCode
from memory_integrations.embedders import HashingEmbedder

from .conftest import cli, fill, one_error_line


def _rows(stdout: str) -> list[list[str]]:
    lines = stdout.strip().splitlines()
    return [line.split() for line in lines[1:]]


def test_users_table_and_json(store: str):
    result = cli("users", "--path", store)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.strip().splitlines()
    assert header.split() == ["USER", "NAME", "SESSIONS", "CREATED", "(UTC)"]
    assert [r.split()[0] for r in rows] == ["ana", "bob"]
    assert rows[0].split()[1:4] == ["Ana", "Lima", "2"]
    data = json.loads(cli("users", "--url", store, "--json").stdout)
    assert [u["id"] for u in data["users"]] == ["ana", "bob"] and data["total"] == 2


def test_users_pages(store: str):
    result = cli("users", "--path", store, "--limit", "1")
    assert [r[0] for r in _rows(result.stdout)] == ["ana"]
    assert result.stderr.strip() == "users 1-1 of 2; next page: --offset 1"
    second = cli("users", "--path", store, "--limit", "1", "--offset", "1")
    assert [r[0] for r in _rows(second.stdout)] == ["bob"]
    assert second.stderr.strip() == "users 2-2 of 2"
    past = cli("users", "--path", store, "--offset", "5")
    assert past.exit_code == 0 and past.stdout == "" and "no users" in past.stderr


def test_sessions(store: str):
    result = cli("sessions", "ana", "--path", store)
    assert result.exit_code == 0, result.output
    rows = {r[0]: r for r in _rows(result.stdout)}
    assert set(rows) == {"trip", "chat"}
    assert rows["trip"][-1] == "topic=travel"
    data = json.loads(cli("sessions", "ana", "--path", store, "--json").stdout)
    assert {s["session_id"] for s in data["sessions"]} == {"trip", "chat"}
    missing = cli("sessions", "nobody", "--path", store)
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert "memory-integrations users --" in one_error_line(missing.stderr)


def test_blocks_of_a_user_and_of_a_session(store: str):
    result = cli("blocks", "ana", "--path", store)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["BLOCK", "SESSION", "KIND", "STATUS"]
    assert len(lines) == 5
    assert "user: Any tips for Porto? / assistant: Try the riverside walk." in result.stdout
    trip = cli("blocks", "ana", "trip", "--path", store, "--limit", "2")
    assert len(_rows(trip.stdout)) == 2 and all(r[1] == "trip" for r in _rows(trip.stdout))
    assert trip.stderr.strip() == "blocks 1-2 of 3; next page: --offset 2"
    data = json.loads(cli("blocks", "ana", "trip", "--path", store, "--json").stdout)
    assert data["total"] == 3 and {b["kind"] for b in data["memory_blocks"]} == {"fact"}
    assert "Ana is vegetarian." in {b["fact"] for b in data["memory_blocks"]}
    missing = cli("blocks", "ana", "nosuch", "--path", store)
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert "memory-integrations sessions ana --" in one_error_line(missing.stderr)


def test_search_ranks_and_filters(store: str):
    result = cli("search", "ana", "window seat on flights", "--path", store, "-k", "2")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert len(rows) == 2
    assert "window seat" in result.stdout.splitlines()[1]
    assert float(rows[0][0]) >= float(rows[1][0])
    data = json.loads(
        cli("search", "ana", "Porto tips", "--path", store, "--session", "chat", "--json").stdout
    )
    assert data["count"] == 1 and data["memory_blocks"][0]["session_id"] == "chat"
    assert data["memory_blocks"][0]["rel_score"] is not None
    none = cli("search", "ana", "window seat", "--path", store, "--threshold", "0.99")
    assert none.exit_code == 0 and none.stdout == "" and "nothing" in none.stderr
    missing = cli("search", "ana", "x", "--path", store, "--session", "nosuch")
    assert missing.exit_code == ExitCode.NOT_FOUND


def test_the_default_store_and_the_env_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMORY_INTEGRATIONS_URL", raising=False)
    fill(tmp_path / "agent-memory.sqlite3")
    assert [r[0] for r in _rows(cli("users").stdout)] == ["ana", "bob"]
    other = tmp_path / "other.sqlite3"
    with AgentMemoryClient(other, embedder=HashingEmbedder()) as client:
        client.create_user("carol", "Carol")
    monkeypatch.setenv("MEMORY_INTEGRATIONS_URL", str(other))
    assert [r[0] for r in _rows(cli("users").stdout)] == ["carol"]


@pytest.mark.sqlite_only
def test_reading_changes_nothing(store: str, storage: str) -> None:
    """Reading commands run no worker: blocks waiting to be embedded stay waiting."""
    with AgentMemoryClient(store, embedder=HashingEmbedder()) as client:
        session = client.get_user("bob").get_session("work")
        engine: Any = client.backend
        engine._worker.stop(drain=False)  # leave the next block queued
        engine._worker = None
        session.add_memory(facts=["Bob is queued."])
    before = Path(store).read_bytes()
    for command in (["users"], ["blocks", "bob"], ["search", "bob", "queued"]):
        assert cli(*command, "--path", store).exit_code == 0
    data = json.loads(cli("blocks", "bob", "--path", store, "--json").stdout)
    assert {b["status"] for b in data["memory_blocks"]} == {"ready", "processing"}
    assert Path(store).read_bytes() == before


# --- on a server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("fastapi")
    from memory_integrations.server import AuthConfig

    from ..server.conftest import start

    auth = AuthConfig()
    auth.add_token("cli-test-token")
    live = start(tmp_path_factory.mktemp("cli-server"), auth=auth)
    with AgentMemoryClient(base_url=live.url, token="cli-test-token") as client:
        ana = client.create_user("ana", "Ana Lima")
        ana.create_session("trip").add_memory(
            facts=["Ana always books a window seat on flights.", "Ana is vegetarian."],
            async_processing=False,
        )
    yield live
    live.http.close()
    live.thread.stop()


def test_inspect_a_server(server: Any, monkeypatch: pytest.MonkeyPatch):
    url = server.url
    result = cli("users", "--url", url, "--token", "cli-test-token")
    assert result.exit_code == 0, result.output
    assert [r[0] for r in _rows(result.stdout)] == ["ana"]
    monkeypatch.setenv("MEMORY_INTEGRATIONS_TOKEN", "cli-test-token")
    assert [r[0] for r in _rows(cli("sessions", "ana", "--url", url).stdout)] == ["trip"]
    assert len(_rows(cli("blocks", "ana", "trip", "--url", url).stdout)) == 2
    found = json.loads(cli("search", "ana", "window seat", "--url", url, "--json").stdout)
    assert "window seat" in found["memory_blocks"][0]["fact"]


def test_server_errors_get_cli_hints(server: Any):
    url = server.url
    missing = cli("sessions", "nobody", "--url", url, "--token", "cli-test-token")
    assert missing.exit_code == ExitCode.NOT_FOUND
    line = one_error_line(missing.stderr)
    assert line == (
        f"Error: user 'nobody' does not exist; list the users with "
        f"`memory-integrations users --url {url}`"
    )
    denied = cli("users", "--url", url, "--token", "wrong-token")
    assert denied.exit_code == ExitCode.AUTH == 6
    one_error_line(denied.stderr)
    refused = cli("users", "--url", url, "--token", "cli-test-token", "--embedder", "hashing")
    assert refused.exit_code == ExitCode.USAGE
    assert "leave out --embedder" in one_error_line(refused.stderr)


class _CustomEmbedder(HashingEmbedder):
    """An embedder the CLI cannot build from the store's record alone."""

    @property
    def name(self) -> str:
        return "custom-model-v1"


def test_a_store_of_another_embedder_lists_without_it_and_searches_with_it(db_path: Any):
    with AgentMemoryClient(db_path, embedder=_CustomEmbedder(48)) as client:
        client.create_user("ana", "Ana").create_session("s").add_memory(
            facts=["Ana likes tea."], async_processing=False
        )
    assert [r[0] for r in _rows(cli("users", "--path", db_path).stdout)] == ["ana"]
    assert len(_rows(cli("blocks", "ana", "--path", db_path).stdout)) == 1
    refused = cli("search", "ana", "tea", "--path", db_path)
    assert refused.exit_code == ExitCode.INVALID
    assert "holds vectors from embedder 'custom-model-v1' (48-d); name it with --embedder" in (
        one_error_line(refused.stderr)
    )
