"""Re-record the OpenAI-compatible extractor cassettes against a local stub server.

Run from the repository root::

    python tests/extraction/record_cassettes.py            # every scenario
    python tests/extraction/record_cassettes.py not_json   # only the scenarios named

It starts a small OpenAI-compatible ``/v1/chat/completions`` server on 127.0.0.1 (random
port), drives :class:`OpenAICompatibleExtractor` (alone, and inside an
``AgentMemoryClient``) through each scenario with vcrpy recording, and writes
``tests/extraction/cassettes/<scenario>.yaml``. Request URLs are rewritten to
``FAKE_BASE_URL`` so the cassettes do not depend on the port, and the Authorization header
is filtered out. Nothing here needs the internet or a real API key; the tests only replay
(record mode ``none``), so they never need this server.

Re-record after changing what the extractor sends (the cassettes match on the request
body), the engine's base prompt (``BASE_PROMPT`` / ``ANSWER_FORMAT``, sent by the engine
scenarios) or the stub's answers.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import AgentMemoryError
from memory_integrations.extraction import OpenAICompatibleExtractor
from tests.extraction.conftest import (
    CASSETTE_DIR,
    FAKE_API_KEY,
    FAKE_BASE_URL,
    STUB_MODEL,
    make_vcr,
    stub_extraction,
)

# The inputs of the scenarios; test_extractor_openai.py replays them with the same values.
PROMPT = (
    "Summarise this memory item.\n\n"
    'Answer with one JSON object and nothing else: {"summary": "...", "contexts": ["..."]}.'
)
TEXTS = [
    "Ana flies to Lisbon in May and prefers a window seat on every long flight.",
    "The CFO approved the Q3 budget.",
]
MAX_TOKENS = 120
FACTS = [
    "Marguerite collects vintage typewriters in Prague.",
    "Desmond trains falcons near Inverness.",
]


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


class _StubChat(BaseHTTPRequestHandler):
    """Implements just enough of ``POST /v1/chat/completions``; the model picks a behaviour.

    ``stub-model``: a chat completion whose content is the JSON object
    :func:`stub_extraction` derives from the (last) user message.
    ``stub-rate-limited``: 429 with ``Retry-After: 7``. ``stub-broken``: 500.
    ``stub-chatty``: 200 whose content is not JSON. ``stub-not-chat``: 200 ``{"foo": 1}``.
    Any other model: 404. A key other than ``FAKE_API_KEY``: 401.
    """

    server_version = "stub-openai/1.0"
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
        if self.path != "/v1/chat/completions":
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
        users = [m.get("content") for m in request.get("messages", []) if m.get("role") == "user"]
        if not users or not isinstance(users[-1], str):
            self._send(400, _error("a user message is required", "invalid_request_error", None))
            return
        if model == "stub-rate-limited":
            self._send(
                429,
                _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                {"Retry-After": "7"},
            )
        elif model == "stub-broken":
            self._send(
                500, _error("The server had an error processing your request", "server_error", None)
            )
        elif model == "stub-chatty":
            self._send(200, _completion(model, "I cannot do that"))
        elif model == "stub-not-chat":
            self._send(200, {"foo": 1})
        elif model == STUB_MODEL:
            self._send(200, _completion(model, json.dumps(stub_extraction(users[-1]))))
        else:
            self._send(
                404,
                _error(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )


@contextmanager
def stub_server() -> Iterator[str]:
    """Serve the stub API on 127.0.0.1; yields its base URL (``http://127.0.0.1:<port>/v1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


# --- scenarios: each drives the extractor the way the matching test replays it ---------


def _extractor(base_url: str, model: str = STUB_MODEL, **kwargs: Any) -> OpenAICompatibleExtractor:
    kwargs.setdefault("api_key", FAKE_API_KEY)
    return OpenAICompatibleExtractor(model, base_url=base_url, **kwargs)


def extract_success(base_url: str) -> None:
    extractor = _extractor(base_url, max_tokens=MAX_TOKENS)
    for text in TEXTS:
        extractor.extract(text, PROMPT)


def rate_limited(base_url: str) -> None:
    _extractor(base_url, "stub-rate-limited").extract(TEXTS[0], PROMPT)


def server_error(base_url: str) -> None:
    _extractor(base_url, "stub-broken").extract(TEXTS[0], PROMPT)


def unauthorized(base_url: str) -> None:
    _extractor(base_url, api_key="sk-wrong-key").extract(TEXTS[0], PROMPT)


def not_json(base_url: str) -> None:
    _extractor(base_url, "stub-chatty").extract(TEXTS[0], PROMPT)


def not_chat_completion(base_url: str) -> None:
    _extractor(base_url, "stub-not-chat").extract(TEXTS[0], PROMPT)


def _add_facts(base_url: str, model: str) -> None:
    extractor = _extractor(base_url, model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.sqlite3"
        try:
            with AgentMemoryClient(path, embedder=HashingEmbedder(), extractor=extractor) as client:
                session = client.create_user("u", "U").create_session("s")
                session.add_memory(facts=FACTS, async_processing=False)
        finally:
            extractor.close()


def engine_end_to_end(base_url: str) -> None:
    _add_facts(base_url, STUB_MODEL)


def engine_rate_limited(base_url: str) -> None:
    _add_facts(base_url, "stub-rate-limited")


SCENARIOS: list[Callable[[str], None]] = [
    extract_success,
    rate_limited,
    server_error,
    unauthorized,
    not_json,
    not_chat_completion,
    engine_end_to_end,
    engine_rate_limited,
]


def record(only: set[str] | None = None) -> list[Path]:
    """Record every scenario (or those named in ``only``); returns the written cassettes."""
    names = {scenario.__name__ for scenario in SCENARIOS}
    if only and not only <= names:
        raise SystemExit(f"unknown scenario(s) {sorted(only - names)}; known: {sorted(names)}")
    CASSETTE_DIR.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for scenario in SCENARIOS:
        name = scenario.__name__
        if only and name not in only:
            continue
        path = CASSETTE_DIR / f"{name}.yaml"
        path.unlink(missing_ok=True)
        with stub_server() as base_url:

            def canonical(request: Any, base_url: str = base_url) -> Any:
                request.uri = request.uri.replace(base_url, FAKE_BASE_URL)
                return request

            recorder = make_vcr("all", before_record_request=canonical)
            # The error scenarios are supposed to fail.
            with recorder.use_cassette(path.name), contextlib.suppress(AgentMemoryError):
                scenario(base_url)
        written.append(path)
    return written


if __name__ == "__main__":
    for cassette in record(set(sys.argv[1:]) or None):
        print(f"wrote {cassette}")
