"""Helpers for the command-line tests: a filled store, CliRunner and the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from memory_integrations import AgentMemoryClient
from memory_integrations.cli import main
from memory_integrations.embedders import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("memory-integrations")


def fill(location: Any) -> None:
    """ana: two sessions (facts and a chat exchange); bob: one session."""
    with AgentMemoryClient(location, embedder=HashingEmbedder()) as client:
        ana = client.create_user("ana", "Ana Lima")
        trip = ana.create_session("trip", annotations={"topic": "travel"})
        trip.add_memory(
            facts=[
                "Ana always books a window seat on flights.",
                "Ana is vegetarian.",
                "Ana flies to Lisbon in May.",
            ],
            async_processing=False,
        )
        ana.create_session("chat").add_memory(
            messages=[
                {
                    "user_content": "Any tips for Porto?",
                    "assistant_content": "Try the riverside walk.",
                }
            ],
            async_processing=False,
        )
        client.create_user("bob", "Bob").create_session("work").add_memory(
            facts=["Bob works on Mondays."], async_processing=False
        )


@pytest.fixture
def store(db_path: Any) -> str:
    """A filled store (SQLite file or PostgreSQL URL) made with the hashing embedder."""
    fill(db_path)
    return str(db_path)


def cli(*args: object, input: str | None = None) -> Result:
    """Run the CLI in-process through its top-level group (the error boundary)."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def script(
    *args: object, cwd: Path | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run the real ``memory-integrations`` console script on this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MEMORY_INTEGRATIONS_URL", None)
    return subprocess.run(
        [str(SCRIPT), *[str(a) for a in args]],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        **kwargs,
    )


def one_error_line(stderr: str) -> str:
    """The single ``Error: ...`` line a failing command prints, and nothing else."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]
