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
(record mode ``none``), so they never need this server. The server, the VCR setup and the
recording loop are shared with the embedder's (``tests/_openai_stub.py``).

Re-record after changing what the extractor sends (the cassettes match on the request
body), the engine's base prompt (``BASE_PROMPT`` / ``ANSWER_FORMAT``, sent by the engine
scenarios) or the stub's answers.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.extraction import OpenAICompatibleExtractor
from tests._openai_stub import (
    FAKE_API_KEY,
    Reply,
    StubHandler,
    model_not_found,
    openai_error,
    serve,
)
from tests._openai_stub import record as record_scenarios
from tests.extraction.conftest import (
    CASSETTE_DIR,
    FACTS,
    MAX_TOKENS,
    PROMPT,
    STUB_MODEL,
    TEXTS,
    stub_extraction,
)


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


class _StubChat(StubHandler):
    """Implements just enough of ``POST /v1/chat/completions``; the model picks a behaviour.

    ``stub-model``: a chat completion whose content is the JSON object
    :func:`stub_extraction` derives from the (last) user message.
    ``stub-rate-limited``: 429 with ``Retry-After: 7``. ``stub-broken``: 500.
    ``stub-chatty``: 200 whose content is not JSON. ``stub-not-chat``: 200 ``{"foo": 1}``.
    Any other model: 404. A key other than ``FAKE_API_KEY``: 401.
    """

    endpoint = "/v1/chat/completions"
    server_version = "stub-openai/1.0"

    def answer(self, request: dict[str, Any]) -> Reply:
        model = request.get("model")
        users = [m.get("content") for m in request.get("messages", []) if m.get("role") == "user"]
        if not users or not isinstance(users[-1], str):
            return Reply(400, openai_error("a user message is required", "invalid_request_error"))
        if model == "stub-rate-limited":
            error = openai_error(
                "Rate limit reached for requests", "requests", "rate_limit_exceeded"
            )
            return Reply(429, error, {"Retry-After": "7"})
        if model == "stub-broken":
            message = "The server had an error processing your request"
            return Reply(500, openai_error(message, "server_error"))
        if model == "stub-chatty":
            return Reply(200, _completion(model, "I cannot do that"))
        if model == "stub-not-chat":
            return Reply(200, {"foo": 1})
        if model == STUB_MODEL:
            return Reply(200, _completion(model, json.dumps(stub_extraction(users[-1]))))
        return model_not_found(model)


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
    return record_scenarios(CASSETTE_DIR, SCENARIOS, lambda: serve(_StubChat), only)


if __name__ == "__main__":
    for cassette in record(set(sys.argv[1:]) or None):
        print(f"wrote {cassette}")
