"""A local OpenAI-compatible stub server and the vcrpy setup of the cassette suites.

``tests/embedders`` and ``tests/extraction`` record their cassettes the same way: a tiny
HTTP server on 127.0.0.1 answers like the OpenAI API, each scenario runs against it with
vcrpy recording, and request URLs are rewritten to :data:`FAKE_BASE_URL` so the cassettes
do not depend on the port. The tests only replay (record mode ``none``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import vcr  # type: ignore[import-untyped]

from memory_integrations.errors import AgentMemoryError

FAKE_BASE_URL = "http://fake-openai.invalid/v1"
"""The base URL every cassette is recorded under (the stub server's real address is rewritten)."""
FAKE_API_KEY = "sk-test-not-a-secret"
"""The only key the stub server accepts; any other gets OpenAI's 401."""


def openai_error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """An error body shaped like OpenAI's: ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class Reply(NamedTuple):
    """What the stub answers: a status, a JSON body and any extra headers."""

    status: int
    body: Any
    headers: dict[str, str] | None = None


def model_not_found(model: Any) -> Reply:
    """OpenAI's 404 for a model that does not exist."""
    message = f"The model `{model}` does not exist or you do not have access to it."
    return Reply(404, openai_error(message, "invalid_request_error", "model_not_found"))


class StubHandler(BaseHTTPRequestHandler):
    """Serves ``POST <endpoint>`` with the key :data:`FAKE_API_KEY`; the rest is OpenAI's 404/401.

    Subclasses set :attr:`endpoint` and implement :meth:`answer`; :meth:`reset` clears any
    state they keep between requests before a new server starts.
    """

    endpoint = "/v1"
    server_version = "stub-openai/1.0"
    sys_version = ""

    @classmethod
    def reset(cls) -> None:
        """Forget what earlier requests changed; called before each server starts."""

    def answer(self, request: dict[str, Any]) -> Reply:
        """The reply to an authorised request to :attr:`endpoint` (its parsed JSON body)."""
        raise NotImplementedError

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path != self.endpoint:
            error = openai_error(f"Unknown path {self.path}", "invalid_request_error")
            reply = Reply(404, error)
        elif self.headers.get("Authorization") != f"Bearer {FAKE_API_KEY}":
            error = openai_error(
                "Incorrect API key provided: sk-wrong****. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
            reply = Reply(401, error)
        else:
            reply = self.answer(request)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (reply.headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve(handler_class: type[StubHandler]) -> Iterator[str]:
    """Serve ``handler_class`` on 127.0.0.1; yields its base URL (``http://127.0.0.1:<port>/v1``)."""
    handler_class.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _drop_date(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"].pop("date", None)
    response["headers"].pop("Date", None)
    return response


def make_vcr(
    cassette_dir: Path,
    record_mode: str,
    before_record_request: Callable[[Any], Any] | None = None,
) -> vcr.VCR:
    """The VCR configuration used both to record and to replay the cassettes."""
    return vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        record_mode=record_mode,
        # The body is matched too: a request whose payload differs from the recorded one fails.
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        # No credentials, and nothing that changes from one recording to the next.
        filter_headers=["authorization", "host", "user-agent"],
        before_record_request=before_record_request,
        before_record_response=_drop_date,
        decode_compressed_response=True,
    )


def replayer(cassette_dir: Path) -> Callable[[str], Any]:
    """``replayer(dir)("name")`` replays ``<dir>/name.yaml`` once; unrecorded requests fail."""
    replaying = make_vcr(cassette_dir, "none")

    def use(name: str) -> Any:
        return replaying.use_cassette(f"{name}.yaml", allow_playback_repeats=False)

    return use


Scenario = Callable[[str], None]
"""Drives the client under test against the base URL it is given."""


def record(
    cassette_dir: Path,
    scenarios: Iterable[Scenario],
    serve_fn: Callable[[], AbstractContextManager[str]],
    only: set[str] | None = None,
) -> list[Path]:
    """Record each scenario (or those named in ``only``) as ``<cassette_dir>/<name>.yaml``.

    Every scenario gets a fresh server from ``serve_fn``; an :class:`AgentMemoryError` it
    raises is expected (the error scenarios). Returns the cassettes written.
    """
    scenarios = list(scenarios)
    names = {scenario.__name__ for scenario in scenarios}
    if only and not only <= names:
        raise SystemExit(f"unknown scenario(s) {sorted(only - names)}; known: {sorted(names)}")
    cassette_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for scenario in scenarios:
        name = scenario.__name__
        if only and name not in only:
            continue
        path = cassette_dir / f"{name}.yaml"
        path.unlink(missing_ok=True)
        with serve_fn() as base_url:

            def canonical(request: Any, base_url: str = base_url) -> Any:
                request.uri = request.uri.replace(base_url, FAKE_BASE_URL)
                return request

            recorder = make_vcr(cassette_dir, "all", before_record_request=canonical)
            with recorder.use_cassette(path.name), contextlib.suppress(AgentMemoryError):
                scenario(base_url)
        written.append(path)
    return written
