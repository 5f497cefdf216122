"""``export``, ``import`` and ``erase``: move or remove whole users."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from ..errors import ValidationError
from ._output import output_file, progress
from ._store import engine_of, open_store, store_options


@click.command("export")
@store_options(required=False, server=False)
@click.option("--user", "user_id", default=None, help="Export one user (default: all).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON Lines file, written only if the export succeeds (default: standard output).",
)
def export_cmd(
    location: str, embedder: str | None, user_id: str | None, output: Path | None
) -> None:
    """Write users, sessions and blocks as JSON Lines.

    \b
    memory-integrations export --path agent-memory.sqlite3 -o memory.jsonl
    memory-integrations export --url postgresql://localhost/app --user ana > ana.jsonl
    """
    with open_store(location, embedder=embedder, server_ok=False, command="export") as client:
        engine = engine_of(client)
        records = engine.export_records(user_id)  # unknown user: raises before any output
        total = engine.count_export_blocks(user_id)
        with output_file(output) as out, progress(total, "exporting blocks") as advance:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                if record["type"] == "block":
                    advance(1)
    if output is not None:
        click.echo(f"exported {total} blocks to {output}", err=True)


def _read_lines(source: TextIO) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(source, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"line {number} of the input is not JSON ({exc}); pass a file written by "
                    "`memory-integrations export`"
                ) from None


def _header(source: Path) -> tuple[str, int] | None:
    """The (embedder, dim) an export file's header names, if it has one."""
    with source.open(encoding="utf-8") as handle:
        first = handle.readline()
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("type") != "header":
        return None
    name, dim = header.get("embedder"), header.get("dim")
    if isinstance(name, str) and isinstance(dim, int) and not isinstance(dim, bool):
        return name, dim
    return None


@click.command("import")
@store_options(required=True, server=False)
@click.option(
    "--input",
    "-i",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A JSON Lines export.",
)
def import_cmd(location: str, embedder: str | None, source: Path) -> None:
    """Load a JSON Lines export into a store (created if missing), all or nothing.

    A new store gets the export's embedder, so the vectors are kept as they are; a store
    with another embedder re-embeds the blocks.

    \b
    memory-integrations import --path copy.sqlite3 -i memory.jsonl
    """
    with source.open(encoding="utf-8") as handle:  # a missing file fails before the store
        lines = sum(1 for _ in handle)
    with open_store(
        location,
        embedder=embedder,
        must_exist=False,
        embeds=True,
        worker=True,
        server_ok=False,
        command="import",
        prefer=_header(source),
    ) as client:
        with source.open(encoding="utf-8") as handle, progress(lines, "importing") as advance:
            counts = engine_of(client).import_records(_read_lines(handle), progress=advance)
        if counts["requeued"]:
            with progress(counts["requeued"], "re-embedding") as advance:
                _wait(client, counts["requeued"], advance)
        client.wait_until_processed(None)
    click.echo(
        f"imported {counts['users']} users, {counts['sessions']} sessions, "
        f"{counts['blocks']} blocks ({counts['requeued']} re-embedded)"
    )


def _wait(client: Any, total: int, advance: Any) -> None:
    """Advance a bar while the worker embeds ``total`` re-queued blocks."""
    engine = engine_of(client)
    done = 0
    while not client.wait_until_processed(0.2):
        now = max(total - engine.pending_count(), 0)
        if now > done:
            advance(now - done)
            done = now
    advance(total - done)


@click.command("erase")
@store_options(required=True, server=False)
@click.option("--user", "user_id", required=True, help="The user to erase.")
@click.option(
    "--thread",
    "threads",
    multiple=True,
    help="Also erase this LangGraph thread (repeatable), e.g. one written without user_id.",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    help="Also erase LangGraph store items under this namespace, labels joined by '/' "
    "(repeatable), e.g. memories/ana.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_cmd(
    location: str,
    embedder: str | None,
    user_id: str,
    threads: tuple[str, ...],
    namespaces: tuple[str, ...],
    yes: bool,
) -> None:
    """Erase a user everywhere: memory, and the LangGraph threads and store items recorded
    as theirs. Data that only carries their id in a name is kept and listed.

    \b
    memory-integrations erase --path agent-memory.sqlite3 --user ana
    """
    from ..lifecycle import erase_user

    with open_store(location, embedder=embedder, server_ok=False, command="erase") as client:
        if not yes:
            click.confirm(f"Erase user {user_id!r} and everything of theirs?", abort=True)
        report = erase_user(
            client,
            user_id,
            threads=list(threads),
            store_namespaces=[tuple(n.split("/")) for n in namespaces],
        )
    click.echo(report.summary())
