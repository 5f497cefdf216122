"""What commands print and write: tables, JSON, progress bars, output files.

- Progress bars go to stderr, and only when stderr is a terminal: piped or redirected runs
  (scripts, CI logs) get no bar and no label lines.
- An output file is written to a temporary file beside it and renamed into place when the
  command succeeds, so a failed or interrupted command leaves no half-written file (and an
  existing file untouched).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click


def interactive() -> bool:
    """Whether stderr is a terminal (then long commands show a progress bar)."""
    stream = sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (a terminal only); yields its ``update(n)``."""
    if not interactive():
        yield lambda n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def _new_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def output_file(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or ``path`` written only if the block completes."""
    if path is None:
        yield sys.stdout
        return
    path = path.expanduser()
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    mode = path.stat().st_mode & 0o7777 if path.exists() else _new_file_mode()
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".partial", dir=path.parent or Path(".")
        )
    except OSError as exc:  # name the file asked for, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


# --- tables and JSON ------------------------------------------------------------------


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def when(moment: datetime | None) -> str:
    """A time for a table: UTC, to the minute."""
    if moment is None:
        return "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def clip(text: object, width: int) -> str:
    """One line of at most ``width`` characters."""
    flat = " ".join(str(text).split())
    if len(flat) <= width:
        return flat
    return flat[: max(width - 1, 0)] + "…"


def _columns() -> int:
    if sys.stdout.isatty():
        return max(shutil.get_terminal_size((120, 24)).columns, 60)
    return 160


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns; the last one is cut to the terminal's width."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    used = sum(w + 2 for w in widths[:-1])
    last = max(_columns() - used, 20)
    lines = [list(headers), *[list(r) for r in rows]]
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        cells.append(clip(line[-1], last))
        click.echo("  ".join(cells).rstrip())


def print_page(shown: int, offset: int, total: int | None, what: str) -> None:
    """A paging note on stderr (not part of the table on stdout)."""
    if total is None:
        if shown:
            click.echo(f"{shown} {what} from offset {offset}", err=True)
        return
    if shown == 0:
        return
    first, last = offset + 1, offset + shown
    if offset == 0 and last >= total:
        return
    note = f"{what} {first}-{last} of {total}"
    if last < total:
        note += f"; next page: --offset {last}"
    click.echo(note, err=True)
