"""Every failure is one ``Error:`` line with the fix and an exit code by category."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import click
import pytest

from memory_integrations import errors
from memory_integrations.cli import ExitCode
from memory_integrations.cli._errors import as_cli_error, cli_message, exit_code_of

from .conftest import cli, fill, one_error_line


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Path:
    path = tmp_path / "memory.sqlite3"
    fill(path)
    return path


def _export(store: Path, tmp_path: Path) -> Path:
    dump = tmp_path / "dump.jsonl"
    result = cli("export", "--path", store, "-o", dump)
    assert result.exit_code == 0, result.output
    return dump


def test_import_twice_is_a_conflict_with_the_erase_command(sqlite_store: Path, tmp_path: Path):
    dump = _export(sqlite_store, tmp_path)
    target = tmp_path / "target.sqlite3"
    assert cli("import", "--path", target, "-i", dump).exit_code == 0
    again = cli("import", "--path", target, "-i", dump)
    assert again.exit_code == ExitCode.CONFLICT == 5
    line = one_error_line(again.stderr)
    assert "user 'ana' already exists" in line
    assert f"memory-integrations erase --user ana --path {target}" in line
    assert "nothing was imported" in line


def test_erase_of_an_unknown_user_points_at_the_users_command(sqlite_store: Path):
    result = cli("erase", "--path", sqlite_store, "--user", "nobody", "--yes")
    assert result.exit_code == ExitCode.NOT_FOUND == 4
    line = one_error_line(result.stderr)
    assert "nothing is stored for user 'nobody'" in line
    assert f"memory-integrations users --path {sqlite_store}" in line
    assert "client." not in line


def test_export_of_an_unknown_user_writes_no_file(sqlite_store: Path, tmp_path: Path):
    out = tmp_path / "out.jsonl"
    result = cli("export", "--path", sqlite_store, "--user", "nobody", "-o", out)
    assert result.exit_code == ExitCode.NOT_FOUND
    line = one_error_line(result.stderr)
    assert "user 'nobody' does not exist" in line
    assert "create_user" not in line and "memory-integrations users" in line
    assert not out.exists()
    assert list(tmp_path.glob("*.partial")) == [] and list(tmp_path.glob(".out*")) == []


def test_a_failed_export_leaves_an_existing_file_untouched(sqlite_store: Path, tmp_path: Path):
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    result = cli("export", "--path", sqlite_store, "--user", "nobody", "-o", out)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert out.read_text() == "precious\n"


def test_an_interrupted_export_leaves_no_file(
    sqlite_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from memory_integrations.engine import Engine

    def broken(self: Engine, user_id: str | None = None):  # type: ignore[no-untyped-def]
        yield {"type": "header"}
        raise errors.StorageBusyError("the database is locked")

    monkeypatch.setattr(Engine, "export_records", broken)
    out = tmp_path / "out.jsonl"
    result = cli("export", "--path", sqlite_store, "-o", out)
    assert result.exit_code == ExitCode.UNAVAILABLE
    one_error_line(result.stderr)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["memory.sqlite3"]


@pytest.mark.parametrize(
    "command",
    [
        ["export"],
        ["users"],
        ["sessions", "ana"],
        ["blocks", "ana"],
        ["search", "ana", "seat"],
        ["erase", "--user", "ana", "--yes"],
        ["reindex", "--embedder", "hashing"],
    ],
)
def test_commands_on_a_missing_store_create_nothing(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    result = cli(*command, "--path", "typo.db")
    assert result.exit_code == ExitCode.NOT_FOUND, result.output
    assert one_error_line(result.stderr) == (
        "Error: no memory store at typo.db: the file does not exist; check the path (or pass "
        "--url postgresql://... or --url http://...)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_no_store_is_left_alone(tmp_path: Path):
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    result = cli("users", "--path", empty)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "no memory-integrations tables" in one_error_line(result.stderr)
    assert empty.stat().st_size == 0 and len(list(tmp_path.iterdir())) == 1
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some text that is long enough\n" * 3)
    result = cli("export", "--path", text)
    assert result.exit_code == ExitCode.INVALID
    assert "is not a memory store" in one_error_line(result.stderr)


def test_a_folder_is_not_a_store(tmp_path: Path):
    result = cli("users", "--path", tmp_path)
    assert result.exit_code == ExitCode.INVALID
    assert "is a folder" in one_error_line(result.stderr)


def test_import_of_a_missing_file_creates_no_store(tmp_path: Path):
    target = tmp_path / "target.sqlite3"
    result = cli("import", "--path", target, "-i", tmp_path / "nothere.jsonl")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "no such file or folder" in one_error_line(result.stderr)
    assert not target.exists()


def test_import_of_a_broken_file_imports_nothing(sqlite_store: Path, tmp_path: Path):
    dump = _export(sqlite_store, tmp_path)
    lines = dump.read_text().splitlines()
    dump.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n")
    target = tmp_path / "target.sqlite3"
    result = cli("import", "--path", target, "-i", dump)
    assert result.exit_code == ExitCode.INVALID
    assert "line 4 of the input is not JSON" in one_error_line(result.stderr)
    assert "no users" in cli("users", "--path", target).stderr


def test_writing_under_a_file_is_a_file_error(sqlite_store: Path):
    result = cli("export", "--path", sqlite_store, "-o", sqlite_store / "out.jsonl")
    assert result.exit_code == ExitCode.FILE_ERROR
    assert one_error_line(result.stderr) == (
        f"Error: cannot access {sqlite_store / 'out.jsonl'}: Not a directory"
    )


def test_the_wrong_embedder_is_refused_with_the_fix(sqlite_store: Path):
    result = cli("search", "ana", "seat", "--path", sqlite_store, "--embedder", "hashing:64")
    assert result.exit_code == ExitCode.INVALID
    line = one_error_line(result.stderr)
    assert "holds vectors from embedder 'hashing-v1-384'" in line
    assert "leave out --embedder" in line and "memory-integrations reindex" in line


def test_usage_errors_are_one_line_too(sqlite_store: Path):
    for args in (["export", "--bogus"], ["bogus"], ["--bogus"], ["sessions"]):
        result = cli(*args)
        assert result.exit_code == ExitCode.USAGE == 2, args
        line = one_error_line(result.stderr)
        assert "--help`" in line, line
    result = cli("users", "--path", sqlite_store, "--limit", "0")
    assert result.exit_code == ExitCode.USAGE
    assert "--limit" in one_error_line(result.stderr)


def test_a_server_url_is_refused_by_store_commands():
    result = cli("export", "--url", "http://127.0.0.1:9")
    assert result.exit_code == ExitCode.USAGE
    assert "works on the store itself" in one_error_line(result.stderr)


def test_a_token_without_a_server_is_a_usage_error(sqlite_store: Path):
    result = cli("users", "--path", sqlite_store, "--token", "t")
    assert result.exit_code == ExitCode.USAGE
    assert "--token is for a server URL" in one_error_line(result.stderr)


def test_an_unreachable_server_is_unavailable():
    result = cli("users", "--url", "http://127.0.0.1:9")
    assert result.exit_code == ExitCode.UNAVAILABLE == 7
    assert "cannot reach http://127.0.0.1:9" in one_error_line(result.stderr)


def test_an_unreachable_postgres_is_unavailable_and_the_password_stays_secret():
    result = cli("users", "--url", "postgresql://me:s3cret@127.0.0.1:9/app")
    assert result.exit_code == ExitCode.UNAVAILABLE
    line = one_error_line(result.stderr)
    assert "cannot reach PostgreSQL" in line and "s3cret" not in line
    assert "host and port" in line


def test_a_bug_is_one_line_and_debug_shows_the_traceback(
    sqlite_store: Path, monkeypatch: pytest.MonkeyPatch
):
    from memory_integrations.client import AgentMemoryClient

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(AgentMemoryClient, "list_users", boom)
    result = cli("users", "--path", sqlite_store)
    assert result.exit_code == ExitCode.FAILED == 1
    line = one_error_line(result.stderr)
    assert "unexpected KeyError" in line and "--debug" in line
    debug = cli("--debug", "users", "--path", sqlite_store)
    assert isinstance(debug.exception, KeyError)


def test_declining_the_erase_prompt_aborts(sqlite_store: Path):
    result = cli("erase", "--path", sqlite_store, "--user", "ana", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.stderr
    assert "ana" in cli("users", "--path", sqlite_store).stdout


# --- the mapping itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.NotFoundError("x"), ExitCode.NOT_FOUND),
        (errors.ConflictError("x"), ExitCode.CONFLICT),
        (errors.ClientClosedError("x"), ExitCode.CONFLICT),
        (errors.ValidationError("x"), ExitCode.INVALID),
        (errors.ConfigurationError("x"), ExitCode.INVALID),
        (errors.EmbedderMismatchError("x"), ExitCode.INVALID),
        (errors.AuthenticationError("x"), ExitCode.AUTH),
        (errors.AuthorizationError("x"), ExitCode.AUTH),
        (errors.RateLimitError("x"), ExitCode.CAPACITY),
        (errors.StorageBusyError("x"), ExitCode.UNAVAILABLE),
        (errors.ConnectionError("x"), ExitCode.UNAVAILABLE),
        (errors.ServerError("x"), ExitCode.UNAVAILABLE),
    ],
)
def test_each_error_category_has_its_exit_code(error: errors.AgentMemoryError, code: ExitCode):
    assert exit_code_of(error) == code
    mapped = as_cli_error(error)
    assert mapped is not None and mapped.exit_code == code


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file", "a.jsonl"), 4, "no such file"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "d"), 9, "is a folder"),
        (PermissionError(errno.EACCES, "Permission denied", "p"), 9, "permission denied"),
        (OSError(errno.ENOSPC, "No space left on device", "f"), 9, "the disk is full"),
        (sqlite3.OperationalError("database is locked"), 7, "busy"),
        (sqlite3.DatabaseError("database disk image is malformed"), 7, "integrity_check"),
    ],
)
def test_os_and_database_errors(error: BaseException, code: int, words: str):
    mapped = as_cli_error(error)
    assert mapped is not None and mapped.exit_code == code
    assert words in mapped.format_message()


def test_click_own_exits_pass_through():
    assert as_cli_error(click.Abort()) is None
    assert as_cli_error(click.exceptions.Exit(0)) is None
    assert as_cli_error(KeyboardInterrupt()) is None


def test_python_and_http_hints_both_become_cli_hints():
    for message in (
        "user 'a b' does not exist; create it with client.create_user(...)",
        "user 'a b' does not exist; create it with POST /users, or list users with GET /users",
    ):
        hinted = cli_message(errors.NotFoundError(message))
        assert hinted == (
            "user 'a b' does not exist; list the users with `memory-integrations users`"
        )
    session = cli_message(
        errors.NotFoundError(
            "session 's' of user \"it's\" does not exist; create it with "
            "POST /users/it%27s/sessions, or list the sessions with GET /users/it%27s/sessions"
        )
    )
    assert session.endswith("with `memory-integrations sessions 'it'\"'\"'s'`")
    assert cli_message(errors.ValidationError("as it is")) == "as it is"
