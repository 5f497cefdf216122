"""The ``serve`` and ``bench server`` commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi")

from memory_integrations.cli._server import bench_server_cmd, register, serve


def test_serve_refuses_an_open_public_address() -> None:
    result = CliRunner().invoke(serve, ["--host", "0.0.0.0", "--embedder", "hashing"])
    assert result.exit_code != 0
    assert "without authentication" in result.output


def test_serve_checks_client_syntax() -> None:
    result = CliRunner().invoke(serve, ["--client", "no-secret", "--embedder", "hashing"])
    assert result.exit_code != 0 and "CLIENT_ID:SECRET" in result.output


def test_bench_server_prints_figures_for_both_sides() -> None:
    result = CliRunner().invoke(
        bench_server_cmd, ["--requests", "20", "--preload", "40", "--concurrency", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    for case in ("in_process", "http", "http_2_threads"):
        for op in ("add", "search"):
            row = figures[case][op]
            assert row["n"] == 20 and row["requests_per_s"] > 0
            assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert set(figures["http_overhead_p50_ms"]) == {"add", "search"}


def test_register_adds_both_commands() -> None:
    import click

    main, bench = click.Group("main"), click.Group("bench")
    register(main, bench)
    assert "serve" in main.commands and "server" in bench.commands
