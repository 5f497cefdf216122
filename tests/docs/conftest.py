"""Running the Python blocks of README.md and docs/*.md as tests (see ``test_docs.py``).

Sybil parses each page: every fenced ``python`` block is one example, and a
``<!-- skip: next "reason" -->`` comment right before a block marks it as a deliberate
fragment (the page also says so in a sentence). The blocks of one page run in page order
in one namespace, like the cells of a notebook, in a fresh temporary working directory,
offline (no model provider key; a connection to anything but loopback fails the block),
with a clean ``MEMORY_INTEGRATIONS_*`` environment: a page works as a new user would run it.
The only page-specific setup: docs/postgres.md gets ``MEMORY_INTEGRATIONS_URL`` (which the
page tells its reader to export) pointing at a fresh schema of the test run's PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from tests.conftest import store_location

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# What every page runs with: CrewAI's telemetry and tracing off before it is imported (as a
# user would for an offline run, see docs/crewai.md), no model provider key.
OFFLINE_ENV = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
}
REMOVED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY")
# Settings of the test run itself (tests/conftest.py), not of the product: kept.
TEST_RUN_ENV = ("MEMORY_INTEGRATIONS_TEST_POSTGRES_URL", "MEMORY_INTEGRATIONS_REQUIRE_POSTGRES")

# A block followed directly by a ```text block must print exactly that text.
OUTPUT = re.compile(r"\s*```text\n(.*?)^```", re.S | re.M)


def parse(page: Path) -> Document:
    return Document.parse(str(page), PythonCodeBlockParser(), SkipParser())


def is_code(example: Example) -> bool:
    """A code block, not a skip directive."""
    return not isinstance(example.region.evaluator, Skipper)


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@dataclass
class PageRun:
    """The state one page's blocks share: namespace, working directory, resources."""

    page: Path
    directory: Path
    env: dict[str, str]
    examples: list[Example]
    resources: ExitStack = field(default_factory=ExitStack)
    done: set[int] = field(default_factory=set)
    opened: dict[int, Any] = field(default_factory=dict)

    def remember_opened(self, namespace: dict[str, Any]) -> None:
        """Note what the page opened, even if a later block rebinds its name."""
        for value in namespace.values():
            if _closeable(value):
                self.opened.setdefault(id(value), value)

    def close(self) -> None:
        """Close what the page left open, as the end of a script would: adapters, servers,
        then clients, so no background thread outlives the page."""
        from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient

        clients = (AgentMemoryClient, AsyncAgentMemoryClient)
        opened = list(self.opened.values())
        # An ExitStack runs every callback (last pushed first) even when one raises.
        with self.resources as stack:
            for value in [v for v in opened if isinstance(v, clients)]:
                stack.callback(_close, value)
            for value in [v for v in opened if not isinstance(v, clients)]:
                stack.callback(_close, value)

    def expected_output(self, example: Example) -> str | None:
        match = OUTPUT.match(example.document.text, example.end)
        return match.group(1) if match else None


# --- page-specific environment ----------------------------------------------------------------


def _postgres(run: PageRun, request: pytest.FixtureRequest) -> None:
    """docs/postgres.md exports MEMORY_INTEGRATIONS_URL; here it names a fresh schema of the
    test run's PostgreSQL instead of ``db.internal``."""
    url = run.resources.enter_context(store_location("postgres", run.directory, request))
    run.env["MEMORY_INTEGRATIONS_URL"] = url


PAGE_SETUP: dict[str, Callable[[PageRun, pytest.FixtureRequest], None]] = {
    "docs/postgres.md": _postgres,
}


# --- closing what a page left open ------------------------------------------------------------


def _closeable(value: Any) -> bool:
    """The package's objects a script would close at its end: clients, savers, stores,
    crew memories, servers (``ServerThread.stop``)."""
    if not type(value).__module__.startswith("memory_integrations."):
        return False
    return callable(getattr(value, "close", None)) or type(value).__name__ == "ServerThread"


def _close(value: Any) -> None:
    from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient

    if isinstance(value, AsyncAgentMemoryClient):
        value.sync_client.close()
    elif isinstance(value, AgentMemoryClient):
        value.close()
    elif type(value).__name__ == "ServerThread":
        value.stop()
    else:
        value.close()


class Pages:
    """One ``PageRun`` per page, created on first use and closed at the end of the module."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.runs: dict[Path, PageRun] = {}

    def get(self, page: Path, request: pytest.FixtureRequest) -> PageRun:
        if page not in self.runs:
            directory = self.tmp.mktemp(page.stem, numbered=True)
            run = PageRun(page, directory, dict(OFFLINE_ENV), list(parse(page).examples()))
            self.runs[page] = run
            setup = PAGE_SETUP.get(page_id(page))
            if setup is not None:
                setup(run, request)
        return self.runs[page]

    def close(self) -> None:
        with ExitStack() as stack:
            for run in self.runs.values():
                stack.callback(run.close)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    registry = Pages(tmp_path_factory)
    yield registry
    registry.close()


# --- offline: no connection but loopback ------------------------------------------------------


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def network_guard() -> Iterator[list[Any]]:
    """Refuse (and record) every IP connection to anything but this machine's loopback."""
    attempts: list[Any] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
                attempts.append(address)
                raise OSError(f"the docs run offline: no connection to {address!r}")
            return real(self, address)

        return connect

    socket.socket.connect = guard(real_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guard(real_connect_ex)  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


class Tee(io.StringIO):
    """Captures what a block prints and still passes it on (pytest shows it on failure)."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text)
        return super().write(text)


@contextlib.contextmanager
def printed() -> Iterator[Tee]:
    tee = Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        yield tee


def clean_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        product_setting = name.startswith("MEMORY_INTEGRATIONS_") and name not in TEST_RUN_ENV
        if product_setting or name in REMOVED_ENV:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
