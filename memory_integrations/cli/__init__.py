"""The ``memory-integrations`` command line.

Every command reports a failure as one ``Error: ...`` line on stderr, with the fix, and an
exit code by category (``_errors.ExitCode``; docs/cli.md lists them); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .._settings import DEFAULT_PATH
from ._errors import CliError, ExitCode, as_cli_error

__all__ = ["CliError", "ExitCode", "main"]


def _print_figures(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    for section, values in figures.items():
        click.secho(f"[{section}]", bold=True)
        for key, value in values.items():
            click.echo(f"  {key:>26}: {value}")


class _Main(click.Group):
    """The top-level group: the error boundary of every command below it."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            error = as_cli_error(exc)
            assert error is not None
            raise error from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if ctx.meta.get("mi_debug"):
                raise
            error = as_cli_error(exc, ctx)
            if error is None or error is exc:
                raise
            raise error from None


@click.group(cls=_Main)
@click.version_option(package_name="memory-integrations")
@click.option("--debug", is_flag=True, help="On a failure, show the traceback instead of one line.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Persistent memory for agent frameworks.

    Failures print one line, "Error: <what went wrong and the fix>", on stderr and exit
    with 2 (usage), 3 (invalid input), 4 (not found), 5 (conflict), 6 (credentials),
    7 (unavailable: retry), 8 (capacity: retry later), 9 (file error) or 1 (other).
    """
    ctx.meta["mi_debug"] = debug


@main.command()
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_PATH),
    show_default=True,
    help="SQLite file to use.",
)
def demo(path: Path) -> None:
    """Two short conversations: the second recalls what the first stored."""
    from ._demo import run_demo

    run_demo(path)


@main.command()
@click.option(
    "--path",
    "--url",
    "location",
    required=True,
    metavar="LOCATION",
    help="The store: a SQLite file or a postgresql:// URL.",
)
@click.option(
    "--embedder",
    "spec",
    default="default",
    show_default=True,
    help="Embedder spec for the new vectors (default, hashing, openai:<model>).",
)
def reindex(location: str, spec: str) -> None:
    """Re-embed every block of a store with a new embedder.

    \b
    memory-integrations reindex --path agent-memory.sqlite3 --embedder hashing
    """
    from ..embedders import resolve_embedder
    from ..engine import Engine
    from ..storage import open_database
    from ._errors import remember_store
    from ._output import progress
    from ._store import is_server, require_store, store_flag

    remember_store(click.get_current_context(), store_flag(location))
    if is_server(location):
        raise click.UsageError(
            "reindex works on the store itself: pass its SQLite file or postgresql:// URL"
        )
    require_store(location)
    embedder = resolve_embedder(spec)
    engine = Engine(
        open_database(location), embedder=embedder, check_embedder=False, start_worker=False
    )
    try:
        total = engine.count_export_blocks()
        with progress(total, "re-embedding") as advance:
            done = engine.reindex(embedder, progress=advance)
    finally:
        engine.close(drain=False)
    click.echo(f"re-embedded {done} blocks with {embedder.name} ({embedder.dim}-d)")


def _register_lifecycle() -> None:
    from ._inspect import COMMANDS
    from ._lifecycle import erase_cmd, export_cmd, import_cmd

    for command in (export_cmd, import_cmd, erase_cmd, *COMMANDS):
        main.add_command(command)


_register_lifecycle()


@main.group()
def bench() -> None:
    """Benchmarks that print figures and ratios against targets."""


@bench.command("engine")
@click.option("--blocks", default=10_000, show_default=True, help="Blocks for the core timings.")
@click.option(
    "--url",
    "--path",
    "location",
    default=None,
    help="Store for the core timings (default: a temporary SQLite file); e.g. a "
    "postgresql:// URL to measure PostgreSQL.",
)
@click.option(
    "--real",
    is_flag=True,
    help="Also measure the default embedder: ingest overhead and search at --sizes "
    "(on the --url PostgreSQL when given: HNSW + full-text search in the database).",
)
@click.option(
    "--sizes",
    default="10000,100000,1000000",
    show_default=True,
    help="Store sizes for the --real search timings.",
)
@click.option("--json", "as_json", is_flag=True)
def bench_engine_cmd(
    blocks: int, location: str | None, real: bool, sizes: str, as_json: bool
) -> None:
    """Engine timings: add/list/search at N blocks (hashing embedder); --real for the rest."""
    from ..bench import bench_engine, bench_index_memory

    figures: dict[str, Any] = {
        "core": bench_engine(blocks, location),
        "index_memory": bench_index_memory(blocks),
    }
    if real:
        from ..bench import bench_real

        postgres = location if str(location or "").startswith("postgres") else None
        figures["real"] = bench_real([int(s) for s in sizes.split(",") if s], postgres)
    _print_figures(figures, as_json)


@bench.command("langgraph")
@click.option("--steps", default=500, show_default=True)
@click.option("--repeat", default=3, show_default=True)
@click.option("--items", default=10_000, show_default=True, help="Store items for the store bench.")
@click.option("--url", default=None, help="Also compare on this PostgreSQL server.")
@click.option("--json", "as_json", is_flag=True)
def bench_langgraph_cmd(
    steps: int, repeat: int, items: int, url: str | None, as_json: bool
) -> None:
    """Checkpointer and store vs LangGraph's own savers and stores."""
    import tempfile

    from ..bench import bench_saver, bench_saver_postgres

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures["saver_sqlite"] = bench_saver(tmp, steps, repeat=repeat)
    try:
        from ..bench import bench_store
    except ImportError:  # pragma: no cover - store bench not available
        pass
    else:
        figures["store"] = bench_store(items=items)
    if url:
        from ..bench import bench_store_postgres

        figures["saver_postgres"] = bench_saver_postgres(url, steps, repeat=repeat)
        figures["store_postgres"] = bench_store_postgres(url, items=items)
    _print_figures(figures, as_json)


@bench.command("locomo")
@click.option(
    "--data",
    "data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A LoCoMo JSON file, e.g. ../shared/data/locomo-dev.json.",
)
@click.option("--embedder", "spec", default=None, help="Embedder spec (default: local MiniLM).")
@click.option(
    "--url",
    default=None,
    help="Run on this (empty) PostgreSQL database instead of a temporary SQLite file.",
)
@click.option(
    "--scope",
    type=click.Choice(["all", "session", "documents"]),
    default="all",
    show_default=True,
    help="all: search every session of a conversation (R@1/5/10); session: search only the "
    "session holding the evidence (R@1/3, beside plain dense and BM25 baselines); documents: "
    "each session one long block, is the evidence session found (R@1/3, long blocks in "
    "windows beside their start only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_locomo_cmd(
    data: Path, spec: str | None, url: str | None, scope: str, as_json: bool
) -> None:
    """Evidence recall and search latency on LoCoMo (a progress bar on a terminal: each
    conversation is ingested, then searched)."""
    from ..bench import bench_locomo
    from ._output import progress

    with data.open(encoding="utf-8") as handle:
        samples = json.load(handle)
    steps = 2 * len(samples) if isinstance(samples, list) else 0
    with progress(steps, "ingest, then search") as advance:
        figures = bench_locomo(
            data, embedder=spec, store=url, scope=scope, progress=lambda _: advance(1)
        )
    if as_json:
        click.echo(json.dumps(figures))
        return
    stored = (
        f"blocks: {figures['blocks']}"
        if scope == "documents"
        else f"turns: {figures['turns']}  ingest: {figures['ingest_seconds']} s"
    )
    click.echo(
        f"embedder: {figures['embedder']}  scope: {scope}  questions: {figures['questions']}  "
        + stored
    )

    def recalls(row: dict[str, Any]) -> str:
        return "  ".join(
            f"R@{key.removeprefix('recall_at_')} {value:.3f}"
            for key, value in row.items()
            if key.startswith("recall_at_")
        )

    click.echo(f"{'overall':<12} {recalls(figures)}")
    for name, row in figures["per_category"].items():
        click.echo(f"{name:<12} {recalls(row)}  (n={row['questions']})")
    for name, row in figures.get("baselines", {}).items():
        if scope == "documents":
            click.echo(f"{'start only':<12} {recalls(row)}  (each block's first window)")
        else:
            click.echo(f"{'plain ' + name:<12} {recalls(row)}  (same candidates)")
    click.echo(
        f"search p50 {figures['search_p50_ms']} ms, p95 {figures['search_p95_ms']} ms "
        "(query embedding included)"
    )


@bench.command("reliability")
@click.option(
    "--path",
    "--url",
    "location",
    default=None,
    help="Store to load (default: a fresh SQLite file in a temporary directory).",
)
@click.option("--processes", default=4, show_default=True)
@click.option("--ops", default=1000, show_default=True, help="Operations per process.")
@click.option("--json", "as_json", is_flag=True)
def bench_reliability_cmd(location: str | None, processes: int, ops: int, as_json: bool) -> None:
    """N processes x M mixed writes on one store, then an audit for lost writes."""
    import tempfile

    from ..bench import run_load

    if location is None:
        location = str(Path(tempfile.mkdtemp(prefix="mi-bench-")) / "load.sqlite3")
    _print_figures({"load": run_load(location, processes, ops)}, as_json)


def _register_server_commands() -> None:
    from ._server import register

    register(main, bench)


_register_server_commands()
