"""The CLI's one error boundary: every failure is one ``Error: ...`` line and an exit code.

Commands raise what they raise (the package's ``AgentMemoryError`` hierarchy, ``OSError``,
click's usage errors); :func:`as_cli_error` turns each into a :class:`CliError` whose
message ends with a fix phrased for the command line (a flag to pass, a command to run)
and whose exit code tells the category. ``memory-integrations --debug ...`` shows the
traceback instead.
"""

from __future__ import annotations

import ast
import errno
import re
import shlex
import sqlite3
from enum import IntEnum
from typing import IO, Any

import click

from .. import errors


class ExitCode(IntEnum):
    """The exit codes of every ``memory-integrations`` command (docs/cli.md lists them)."""

    OK = 0
    FAILED = 1  # aborted at a prompt, or an unexpected failure (a bug: rerun with --debug)
    USAGE = 2  # unknown command or option, bad option value
    INVALID = 3  # invalid input: arguments, an export file, configuration, embedder
    NOT_FOUND = 4  # no memory store, user, session or input file
    CONFLICT = 5  # already exists, or the stored state forbids it
    AUTH = 6  # missing, invalid or insufficient credentials
    UNAVAILABLE = 7  # server unreachable, database busy, timeout: retry
    CAPACITY = 8  # a queue or rate limit is full: retry later
    FILE_ERROR = 9  # a file could not be read or written (permissions, disk full)


class CliError(click.ClickException):
    """A failure reported as one line on stderr, with its own exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(one_line(message))
        # click declares exit_code on the class; each CliError carries its own
        setattr(self, "exit_code", int(code))  # noqa: B010

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=file is None)


def one_line(message: str) -> str:
    return " ".join(message.split())


# --- where the failing command points (set by the command while it runs) ---------------

_STORE_FLAG = "mi_store_flag"


def remember_store(ctx: click.Context | None, flag: str) -> None:
    """Record the store option (``--path FILE`` / ``--url URL``) for hints in errors."""
    if ctx is not None:
        ctx.find_root().meta[_STORE_FLAG] = flag


def _store_flag(ctx: click.Context | None) -> str:
    if ctx is None:
        return ""
    flag = ctx.find_root().meta.get(_STORE_FLAG)
    return f" {flag}" if flag else ""


# --- hints ----------------------------------------------------------------------------

_QUOTED = r"(?P<{name}>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"


def _pattern(text: str) -> re.Pattern[str]:
    for name in ("user", "session", "block"):
        text = text.replace("{" + name + "}", _QUOTED.format(name=name))
    return re.compile(text, re.DOTALL)


def _unquote(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip("'\"")
    return str(value)


# (what the message says, the CLI wording of the fix); the pattern keeps the "what was
# wrong" part of the message and replaces whatever fix followed it (the engine's Python
# hint, or a server's HTTP one).
_NOT_FOUND_USER = _pattern(r"^(?P<prefix>(?:record \d+: )?)user {user} does not exist\b.*$")
_NOT_FOUND_SESSION = _pattern(
    r"^session {session} of user {user} does not exist\b.*$",
)
_NOTHING_STORED = _pattern(r"^nothing is stored for user {user}(?P<rest>.*?)(?:; check the id)?$")
_IMPORT_CONFLICT = _pattern(
    r"^(?P<prefix>record \d+: )user {user} already exists in the target store\b.*$"
)
_BLOCK_CONFLICT = _pattern(
    r"^(?P<prefix>record \d+: )block {block} already exists in the target store\b.*$"
)
_MISMATCH = re.compile(
    r"^(?P<what>.* holds vectors from embedder '(?P<stored>[^']*)' \((?P<dim>\d+)-d\), but "
    r"this client uses '(?P<used>[^']*)' \(\d+-d\))\..*$",
    re.DOTALL,
)


def _command(ctx: click.Context | None, words: str) -> str:
    return f"`memory-integrations {words}{_store_flag(ctx)}`"


def cli_message(exc: BaseException, ctx: click.Context | None = None) -> str:
    """The message of ``exc`` with its fix phrased for this command line."""
    message = one_line(str(exc))
    if match := _NOT_FOUND_SESSION.match(message):
        user = _unquote(match["user"])
        return (
            f"session {match['session']} of user {match['user']} does not exist; list the "
            f"user's sessions with {_command(ctx, 'sessions ' + shlex.quote(user))}"
        )
    if match := _NOT_FOUND_USER.match(message):
        return (
            f"{match['prefix']}user {match['user']} does not exist; list the users with "
            f"{_command(ctx, 'users')}"
        )
    if match := _NOTHING_STORED.match(message):
        return (
            f"nothing is stored for user {match['user']}{match['rest']}; check the id "
            f"against {_command(ctx, 'users')}"
        )
    if match := _IMPORT_CONFLICT.match(message):
        user = shlex.quote(_unquote(match["user"]))
        return (
            f"{match['prefix']}user {match['user']} already exists in the target store; "
            f"erase it first with {_command(ctx, 'erase --user ' + user)}, or import into "
            "another store (nothing was imported)"
        )
    if match := _BLOCK_CONFLICT.match(message):
        return (
            f"{match['prefix']}block {match['block']} already exists in the target store; "
            "block ids are unique across a store: import into another store (nothing was "
            "imported)"
        )
    if match := _MISMATCH.match(message):
        return (
            f"{match['what']}. Leave out --embedder to use the store's own embedder, or "
            f"re-embed the store with {_command(ctx, 'reindex --embedder SPEC')}"
        )
    return message


# --- exception -> CliError ------------------------------------------------------------

_CATEGORY_CODES: tuple[tuple[type[errors.AgentMemoryError], ExitCode], ...] = (
    (errors.NotFoundError, ExitCode.NOT_FOUND),
    (errors.LogicalError, ExitCode.CONFLICT),
    (errors.BadRequestError, ExitCode.INVALID),
    (errors.AuthenticationError, ExitCode.AUTH),
    (errors.CapacityError, ExitCode.CAPACITY),
    (errors.TransientError, ExitCode.UNAVAILABLE),
)


def exit_code_of(exc: errors.AgentMemoryError) -> ExitCode:
    for kind, code in _CATEGORY_CODES:
        if isinstance(exc, kind):
            return code
    return ExitCode.FAILED


def _os_error(exc: OSError) -> CliError:
    name = exc.filename if exc.filename is not None else None
    reason = exc.strerror or str(exc)
    where = f" {name}" if name is not None else ""
    if isinstance(exc, FileNotFoundError):
        return CliError(f"no such file or folder:{where}; check the path", ExitCode.NOT_FOUND)
    if isinstance(exc, IsADirectoryError):
        return CliError(f"{name} is a folder; pass a file path", ExitCode.FILE_ERROR)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CliError(
            f"cannot write{where}: the disk is full; free some space and run the command "
            "again (nothing was written)",
            ExitCode.FILE_ERROR,
        )
    if isinstance(exc, PermissionError):
        return CliError(
            f"cannot access{where}: permission denied; pick a path you can read and write",
            ExitCode.FILE_ERROR,
        )
    return CliError(f"cannot access{where}: {reason}", ExitCode.FILE_ERROR)


def _usage_error(exc: click.UsageError) -> CliError:
    message = exc.format_message().strip()
    if exc.ctx is not None:
        stop = "" if message.endswith((".", "?", "!")) else "."
        message = f"{message}{stop} See `{exc.ctx.command_path} --help`"
    return CliError(message, ExitCode.USAGE)


def as_cli_error(exc: BaseException, ctx: click.Context | None = None) -> CliError | None:
    """The one-line error for ``exc``, or None for exceptions click handles itself
    (``Abort``, ``Exit``) and interrupts."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, click.UsageError):
        return _usage_error(exc)
    if isinstance(exc, click.ClickException):
        try:
            code = ExitCode(exc.exit_code)
        except ValueError:
            code = ExitCode.FAILED
        return CliError(exc.format_message(), code)
    if isinstance(exc, (click.exceptions.Exit, click.Abort, KeyboardInterrupt, EOFError)):
        return None
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        return None  # the reader of stdout left (| head): click exits quietly
    if isinstance(exc, errors.AgentMemoryError):
        return CliError(cli_message(exc, ctx), exit_code_of(exc))
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
        return CliError(
            f"the store is busy ({exc}): another process holds a write lock; run the "
            "command again in a moment",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return CliError(
            f"the store's database failed ({exc}); check the file (sqlite3 FILE "
            "'PRAGMA integrity_check') or restore it from a backup",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, Exception):
        return CliError(
            f"unexpected {type(exc).__name__}: {exc}; this is a bug: rerun with "
            "`memory-integrations --debug ...` for the traceback and report it",
            ExitCode.FAILED,
        )
    return None
