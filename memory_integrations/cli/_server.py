"""``memory-integrations serve`` and ``memory-integrations bench server``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _split_client(value: str) -> tuple[str, str, str]:
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise click.BadParameter("use CLIENT_ID:SECRET or CLIENT_ID:SECRET:TENANT")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else "default"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("agent-memory-server"),
    show_default=True,
    help="One sub-directory of SQLite files per tenant.",
)
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Serve this embedded store (single tenant) instead of --data-dir.",
)
@click.option(
    "--url",
    default=None,
    help="A sqlite:///FILE URL, as --path (PostgreSQL is not supported by the server yet).",
)
@click.option("--embedder", default=None, help="Embedder spec (default: local MiniLM).")
@click.option(
    "--token",
    "tokens",
    multiple=True,
    envvar="MEMORY_INTEGRATIONS_SERVER_TOKEN",
    help="A bearer token for the default tenant (repeatable). Turns auth on.",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON: {"tokens": {token: tenant}, "clients": {id: {"secret", "tenant"}}}.',
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    help="An OAuth client-credentials client ID:SECRET[:TENANT] (for the SAP SDK).",
)
@click.option("--no-auth", is_flag=True, help="Serve without authentication, on purpose.")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Also answer requests whose Host is NAME (repeatable). On a loopback address only "
    "localhost, 127.0.0.1 and [::1] are answered otherwise (DNS rebinding protection).",
)
@click.option("--token-ttl", default=3600, show_default=True, help="Lifetime of issued tokens.")
@click.option(
    "--drain-timeout",
    default=30.0,
    show_default=True,
    help="Seconds to finish queued embeddings at shutdown.",
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    path: Path | None,
    url: str | None,
    embedder: str | None,
    tokens: tuple[str, ...],
    token_file: Path | None,
    clients: tuple[str, ...],
    no_auth: bool,
    allowed_hosts: tuple[str, ...],
    token_ttl: int,
    drain_timeout: float,
    log_level: str,
) -> None:
    """Serve memory over HTTP: the Couchbase Agent Memory API at / and SAP v1 at /v1."""
    try:
        from ..server import AuthConfig, ServerConfig, create_app, redact_location, store_location
        from ..server import serve as run
    except ImportError as exc:
        raise click.ClickException(str(exc)) from exc
    from .._settings import Settings
    from ..errors import ConfigurationError

    try:
        auth = AuthConfig.from_file(token_file) if token_file else AuthConfig()
        for token in tokens:
            auth.add_token(token)
        for value in clients:
            auth.add_client(*_split_client(value))
        auth.token_ttl = token_ttl
        if no_auth:
            auth.enabled = False
        store = store_location(path, url)
        config = ServerConfig(
            data_dir=data_dir,
            path=store,
            embedder=embedder,
            auth=auth,
            host=host,
            drain_timeout=drain_timeout,
            allowed_hosts=allowed_hosts,
        )
        app = create_app(config)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    where = redact_location(str(store) if store is not None else f"{data_dir}/<tenant>/")
    mode = "on" if auth.active else "off"
    docs = "docs at /docs, with a token" if auth.active else "docs at /docs"
    click.echo(f"memory-integrations server on http://{host}:{port} ({docs})", err=True)
    click.echo(f"  storage: {where}   auth: {mode}", err=True)
    ignored = Settings().url
    if store is None and ignored:
        click.echo(
            f"  note: MEMORY_INTEGRATIONS_URL ({redact_location(ignored)}) is not used by "
            "serve; pass --url or --path to serve one store",
            err=True,
        )
    run(app, host=host, port=port, log_level=log_level)


@click.command("server")
@click.option("--requests", default=300, show_default=True, help="Calls per timed case.")
@click.option("--preload", default=2000, show_default=True, help="Blocks stored before timing.")
@click.option("--concurrency", default=4, show_default=True, help="Client threads, last case.")
@click.option("--embedder", default="hashing", show_default=True, help="Embedder spec.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_server_cmd(
    requests: int, preload: int, concurrency: int, embedder: str, as_json: bool
) -> None:
    """Add and search over HTTP on loopback (req/s, p50/p99), next to the same in-process."""
    try:
        from ..bench import bench_server
    except ImportError as exc:
        raise click.ClickException(str(exc)) from exc

    figures = bench_server(requests, preload=preload, concurrency=concurrency, embedder=embedder)
    if as_json:
        click.echo(json.dumps(figures))
        return
    setup = figures.pop("setup")
    overhead = figures.pop("http_overhead_p50_ms")
    click.echo(
        f"embedder {setup['embedder']}, {setup['preloaded_blocks']} blocks preloaded, "
        f"{setup['requests_per_case']} calls per case"
    )
    click.echo(f"{'case':<16} {'op':<7} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for case, ops in figures.items():
        row: dict[str, Any]
        for op, row in ops.items():
            click.echo(
                f"{case:<16} {op:<7} {row['requests_per_s']:>9} {row['p50_ms']:>9} "
                f"{row['p99_ms']:>9}"
            )
    click.echo(f"HTTP overhead at p50: add +{overhead['add']} ms, search +{overhead['search']} ms")


def register(main: click.Group, bench: click.Group) -> None:
    """Add ``serve`` to the CLI and ``server`` to its ``bench`` group."""
    main.add_command(serve)
    bench.add_command(bench_server_cmd)
