"""Re-record the OpenAI-compatible embedder cassettes against a local fake server.

Run from the repository root::

    python tests/embedders/record_cassettes.py

It starts a small OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1 (random port),
drives :class:`OpenAICompatibleEmbedder` through each scenario with vcrpy recording, and
writes ``tests/embedders/cassettes/<scenario>.yaml``. Request URLs are rewritten to
``FAKE_BASE_URL`` so the cassettes do not depend on the port, and the Authorization header
is filtered out. Nothing here needs the internet or a real API key.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from conftest import (
    CASSETTE_DIR,
    FAKE_API_KEY,
    FAKE_BASE_URL,
    fake_vector,
    make_vcr,
)
from memory_integrations.embedders import OpenAICompatibleEmbedder, _openai
from memory_integrations.errors import AgentMemoryError

CORPUS = [
    "Trains cross bridges",
    "Clouds block sunlight",
    "Rivers carve valleys",
    "Wolves hunt deer",
    "Engines power ships",
]


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Implements just enough of ``POST /v1/embeddings``; the model name picks a behaviour.

    ``fake-embed-8``: 8-d vectors, returned in reverse index order, ``dimensions`` honoured.
    ``fake-rate-limited``: the first request gets 429 with ``Retry-After: 2``.
    ``fake-unavailable``: always 503. ``fake-short``: one embedding too few.
    Any other model: 404. A key other than ``FAKE_API_KEY``: 401.
    """

    rate_limited_seen = False
    server_version = "fake-openai/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/v1/embeddings":
            self._send(404, _error(f"Unknown path {self.path}", "invalid_request_error", None))
            return
        if self.headers.get("Authorization") != f"Bearer {FAKE_API_KEY}":
            self._send(
                401,
                _error(
                    "Incorrect API key provided: sk-wrong****. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            )
            return
        model = request.get("model")
        texts = request.get("input")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._send(400, _error("'input' must be a list of strings", "invalid_request", None))
            return
        if model == "fake-unavailable":
            self._send(503, _error("The server is overloaded", "server_error", None))
            return
        if model == "fake-rate-limited" and not type(self).rate_limited_seen:
            type(self).rate_limited_seen = True
            self._send(
                429,
                _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                {"Retry-After": "2"},
            )
            return
        if model not in ("fake-embed-8", "fake-rate-limited", "fake-short"):
            self._send(
                404,
                _error(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
            return
        dim = int(request.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, dim)}
            for i, text in enumerate(texts)
        ]
        if model == "fake-short":
            data = data[:-1]
        data.reverse()  # real servers may answer out of order; clients must sort by index
        tokens = sum(len(t.split()) for t in texts)
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


@contextmanager
def fake_server() -> Iterator[str]:
    """Serve the fake API on 127.0.0.1; yields its base URL (``http://127.0.0.1:<port>/v1``)."""
    _FakeOpenAI.rate_limited_seen = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


# --- scenarios: each drives the embedder the way the matching test replays it ----------


def embed_batches(base_url: str) -> None:
    embedder = OpenAICompatibleEmbedder(
        "fake-embed-8", base_url=base_url, api_key=FAKE_API_KEY, batch_size=2
    )
    embedder.embed_documents(CORPUS)
    embedder.embed_query("Sky illumination")


def dimensions(base_url: str) -> None:
    embedder = OpenAICompatibleEmbedder(
        "fake-embed-8", base_url=base_url, api_key=FAKE_API_KEY, dimensions=4
    )
    embedder.embed_documents(["alpha", "beta"])


def dim_probe(base_url: str) -> None:
    _ = OpenAICompatibleEmbedder("fake-embed-8", base_url=base_url, api_key=FAKE_API_KEY).dim


def unauthorized(base_url: str) -> None:
    OpenAICompatibleEmbedder("fake-embed-8", base_url=base_url, api_key="sk-wrong-key").embed_query(
        "hello"
    )


def unknown_model(base_url: str) -> None:
    OpenAICompatibleEmbedder("no-such-model", base_url=base_url, api_key=FAKE_API_KEY).embed_query(
        "hello"
    )


def rate_limited(base_url: str) -> None:
    OpenAICompatibleEmbedder(
        "fake-rate-limited", base_url=base_url, api_key=FAKE_API_KEY
    ).embed_documents(["alpha", "beta"])


def server_down(base_url: str) -> None:
    OpenAICompatibleEmbedder(
        "fake-unavailable", base_url=base_url, api_key=FAKE_API_KEY, max_retries=2
    ).embed_query("hello")


def malformed(base_url: str) -> None:
    OpenAICompatibleEmbedder("fake-short", base_url=base_url, api_key=FAKE_API_KEY).embed_documents(
        ["alpha", "beta"]
    )


SCENARIOS: list[Callable[[str], None]] = [
    embed_batches,
    dimensions,
    dim_probe,
    unauthorized,
    unknown_model,
    rate_limited,
    server_down,
    malformed,
]


def record(only: set[str] | None = None) -> list[Path]:
    """Record every scenario (or those named in ``only``); returns the written cassettes."""
    CASSETTE_DIR.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    original_sleep = _openai._sleep
    _openai._sleep = lambda seconds: None  # no real waiting while recording
    try:
        for scenario in SCENARIOS:
            name = scenario.__name__
            if only and name not in only:
                continue
            path = CASSETTE_DIR / f"{name}.yaml"
            path.unlink(missing_ok=True)
            with fake_server() as base_url:

                def canonical(request: Any, base_url: str = base_url) -> Any:
                    request.uri = request.uri.replace(base_url, FAKE_BASE_URL)
                    return request

                recorder = make_vcr("all", before_record_request=canonical)
                # The error scenarios are supposed to fail.
                with recorder.use_cassette(path.name), contextlib.suppress(AgentMemoryError):
                    scenario(base_url)
            written.append(path)
    finally:
        _openai._sleep = original_sleep
    return written


if __name__ == "__main__":
    for cassette in record(set(sys.argv[1:]) or None):
        print(f"wrote {cassette}")
