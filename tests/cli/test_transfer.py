"""``export``, ``import``, ``erase`` and ``reindex`` through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memory_integrations.storage import open_database

from .conftest import cli, fill


def _meta(location: Any) -> tuple[str, str]:
    database = open_database(location)
    try:
        with database.read() as cur:
            rows = dict(cur.execute("SELECT key, value FROM mi_meta").fetchall())
    finally:
        database.close()
    return rows["embedder_name"], rows["embedder_dim"]


def test_round_trip_without_naming_the_embedder(store: str, tmp_path: Path):
    dump = tmp_path / "dump.jsonl"
    result = cli("export", "--path", store, "-o", dump)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr.strip() == f"exported 5 blocks to {dump}"
    header = json.loads(dump.read_text().splitlines()[0])
    assert header["embedder"] == "hashing-v1-384"
    target = tmp_path / "copy.sqlite3"
    imported = cli("import", "--path", target, "-i", dump)
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == "imported 2 users, 3 sessions, 5 blocks (0 re-embedded)"
    assert _meta(target) == ("hashing-v1-384", "384")  # the export's embedder, kept
    again = tmp_path / "again.jsonl"
    assert cli("export", "--path", target, "-o", again).exit_code == 0
    assert again.read_text() == dump.read_text()


def test_export_to_standard_output(store: str):
    result = cli("export", "--url", store, "--user", "bob")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in records] == ["header", "user", "session", "block"]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_import_with_another_embedder_re_embeds(tmp_path: Path):
    source = tmp_path / "source.sqlite3"
    fill(source)
    dump = tmp_path / "dump.jsonl"
    assert cli("export", "--path", source, "-o", dump).exit_code == 0
    target = tmp_path / "target.sqlite3"
    result = cli("import", "--path", target, "-i", dump, "--embedder", "hashing:64")
    assert result.exit_code == 0, result.output
    assert "(5 re-embedded)" in result.stdout
    assert _meta(target) == ("hashing-v1-64", "64")
    found = json.loads(cli("search", "ana", "window seat", "--path", target, "--json").stdout)
    assert "window seat" in found["memory_blocks"][0]["fact"]


def test_erase_then_reindex(store: str):
    result = cli("erase", "--path", store, "--user", "ana", "--yes")
    assert result.exit_code == 0, result.output
    assert [
        u["id"] for u in json.loads(cli("users", "--path", store, "--json").stdout)["users"]
    ] == ["bob"]
    reindexed = cli("reindex", "--path", store, "--embedder", "hashing:32")
    assert reindexed.exit_code == 0, reindexed.output
    assert reindexed.stdout.strip() == "re-embedded 1 blocks with hashing-v1-32 (32-d)"
    found = cli("search", "bob", "Mondays", "--path", store, "--json")
    assert json.loads(found.stdout)["count"] == 1


def test_confirmation_comes_after_the_store_is_found(tmp_path: Path):
    result = cli("erase", "--path", tmp_path / "nothere.sqlite3", "--user", "ana", input="y\n")
    assert result.exit_code == 4 and "Erase user" not in result.output
