"""``export``, ``import`` and ``erase``: move or remove whole users."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from ..client import AgentMemoryClient
from ..engine import Engine


def _engine(client: AgentMemoryClient) -> Engine:
    backend = client.backend
    if not isinstance(backend, Engine):
        raise click.UsageError("export/import/erase need an embedded store (path or URL)")
    return backend


def _client(location: str, embedder: str | None) -> AgentMemoryClient:
    return AgentMemoryClient(location, embedder=embedder)


@click.command("export")
@click.option("--path", "--url", "location", required=True, help="SQLite path or postgresql URL.")
@click.option("--user", "user_id", default=None, help="Export one user (default: all).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON Lines file (default: standard output).",
)
@click.option("--embedder", default=None, help="The store's embedder spec, if not the default.")
def export_cmd(
    location: str, user_id: str | None, output: Path | None, embedder: str | None
) -> None:
    """Write users, sessions and blocks as JSON Lines."""
    with _client(location, embedder) as client:
        engine = _engine(client)
        total = engine.count_export_blocks(user_id)
        out: TextIO = sys.stdout if output is None else output.open("w", encoding="utf-8")
        try:
            with click.progressbar(length=total, label="exporting blocks", file=sys.stderr) as bar:
                for record in engine.export_records(user_id):
                    out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                    if record["type"] == "block":
                        bar.update(1)
        finally:
            if output is not None:
                out.close()


def _read_lines(source: TextIO) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(source, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"line {number} is not JSON: {exc}") from None


@click.command("import")
@click.option("--path", "--url", "location", required=True, help="SQLite path or postgresql URL.")
@click.option(
    "--input",
    "-i",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A JSON Lines export.",
)
@click.option("--embedder", default=None, help="The store's embedder spec, if not the default.")
def import_cmd(location: str, source: Path, embedder: str | None) -> None:
    """Load a JSON Lines export into a store."""
    with _client(location, embedder) as client, source.open(encoding="utf-8") as handle:
        lines = sum(1 for _ in handle)
        handle.seek(0)
        with click.progressbar(
            _read_lines(handle), length=lines, label="importing", file=sys.stderr
        ) as records:
            counts = _engine(client).import_records(records)
        client.wait_until_processed(None)
    click.echo(
        f"imported {counts['users']} users, {counts['sessions']} sessions, "
        f"{counts['blocks']} blocks ({counts['requeued']} re-embedded)"
    )


@click.command("erase")
@click.option("--path", "--url", "location", required=True, help="SQLite path or postgresql URL.")
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
@click.option("--embedder", default=None, help="The store's embedder spec, if not the default.")
def erase_cmd(
    location: str,
    user_id: str,
    threads: tuple[str, ...],
    namespaces: tuple[str, ...],
    yes: bool,
    embedder: str | None,
) -> None:
    """Erase a user everywhere: memory, and the LangGraph threads and store items recorded
    as theirs. Data that only carries their id in a name is kept and listed."""
    from ..lifecycle import erase_user

    if not yes:
        click.confirm(f"Erase user {user_id!r} and everything of theirs?", abort=True)
    with _client(location, embedder) as client:
        report = erase_user(
            client,
            user_id,
            threads=list(threads),
            store_namespaces=[tuple(n.split("/")) for n in namespaces],
        )
    click.echo(report.summary())
