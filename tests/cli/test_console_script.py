"""The real ``memory-integrations`` console script, run as a user runs it."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from .conftest import ROOT, SCRIPT, fill, one_error_line, script


def test_help_lists_every_command() -> None:
    result = script("--help")
    assert result.returncode == 0
    for command in ("users", "sessions", "blocks", "search", "export", "import", "erase"):
        assert f"  {command} " in result.stdout
    assert "7 (unavailable: retry)" in result.stdout


def test_failures_are_one_line_with_the_exit_code(tmp_path: Path) -> None:
    store = tmp_path / "memory.sqlite3"
    fill(store)
    assert script("export", "--path", store, "-o", "dump.jsonl", cwd=tmp_path).returncode == 0
    assert script("import", "--path", "copy.db", "-i", "dump.jsonl", cwd=tmp_path).returncode == 0
    again = script("import", "--path", "copy.db", "-i", "dump.jsonl", cwd=tmp_path)
    assert again.returncode == 5
    assert "erase --user ana --path copy.db" in one_error_line(again.stderr)
    typo = script("export", "--path", "typo.db", cwd=tmp_path)
    assert typo.returncode == 4
    assert one_error_line(typo.stderr).startswith("Error: no memory store at typo.db")
    assert not (tmp_path / "typo.db").exists()
    erase = script("erase", "--path", "copy.db", "--user", "nobody", "--yes", cwd=tmp_path)
    assert erase.returncode == 4
    assert "memory-integrations users --path copy.db" in one_error_line(erase.stderr)
    usage = script("search", "ana", cwd=tmp_path)
    assert usage.returncode == 2
    assert "Missing argument 'QUERY'" in one_error_line(usage.stderr)


def _run_with_terminal_stderr(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the script with stderr on a pseudo-terminal; returns (exit code, what it showed)."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    proc = subprocess.Popen(
        [str(SCRIPT), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=slave
    )
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=120), shown.decode("utf-8", "replace")


def test_progress_bars_show_on_a_terminal_only(tmp_path: Path) -> None:
    store = tmp_path / "memory.sqlite3"
    fill(store)
    code, shown = _run_with_terminal_stderr(
        ["export", "--path", str(store), "-o", "dump.jsonl"], tmp_path
    )
    assert code == 0
    assert "exporting blocks" in shown and "100%" in shown
    code, shown = _run_with_terminal_stderr(
        ["import", "--path", "copy.sqlite3", "-i", "dump.jsonl"], tmp_path
    )
    assert code == 0 and "importing" in shown
    piped = script("export", "--path", store, "-o", "again.jsonl", cwd=tmp_path)
    assert piped.returncode == 0
    assert piped.stderr.strip() == "exported 5 blocks to again.jsonl"
