"""Re-record the OpenAI-compatible embedder cassettes against a local fake server.

Run from the repository root::

    python tests/embedders/record_cassettes.py            # every scenario
    python tests/embedders/record_cassettes.py malformed  # only the scenarios named

It starts a small OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1 (random port),
drives :class:`OpenAICompatibleEmbedder` through each scenario with vcrpy recording, and
writes ``tests/embedders/cassettes/<scenario>.yaml``. Request URLs are rewritten to
``FAKE_BASE_URL`` so the cassettes do not depend on the port, and the Authorization header
is filtered out. Nothing here needs the internet or a real API key. The server, the VCR
setup and the recording loop are shared with the extractor's (``tests/_openai_stub.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from memory_integrations.embedders import OpenAICompatibleEmbedder, _openai
from tests._openai_stub import (
    FAKE_API_KEY,
    Reply,
    StubHandler,
    model_not_found,
    openai_error,
    serve,
)
from tests._openai_stub import record as record_scenarios
from tests.embedders.conftest import CASSETTE_DIR, CORPUS, fake_vector


class _FakeOpenAI(StubHandler):
    """Implements just enough of ``POST /v1/embeddings``; the model name picks a behaviour.

    ``fake-embed-8``: 8-d vectors, returned in reverse index order, ``dimensions`` honoured.
    ``fake-rate-limited``: the first request gets 429 with ``Retry-After: 2``.
    ``fake-unavailable``: always 503. ``fake-short``: one embedding too few.
    Any other model: 404. A key other than ``FAKE_API_KEY``: 401.
    """

    endpoint = "/v1/embeddings"
    server_version = "fake-openai/1.0"
    rate_limited_seen = False

    @classmethod
    def reset(cls) -> None:
        cls.rate_limited_seen = False

    def answer(self, request: dict[str, Any]) -> Reply:
        model = request.get("model")
        texts = request.get("input")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return Reply(400, openai_error("'input' must be a list of strings", "invalid_request"))
        if model == "fake-unavailable":
            return Reply(503, openai_error("The server is overloaded", "server_error"))
        if model == "fake-rate-limited" and not type(self).rate_limited_seen:
            type(self).rate_limited_seen = True
            error = openai_error(
                "Rate limit reached for requests", "requests", "rate_limit_exceeded"
            )
            return Reply(429, error, {"Retry-After": "2"})
        if model not in ("fake-embed-8", "fake-rate-limited", "fake-short"):
            return model_not_found(model)
        dim = int(request.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, dim)}
            for i, text in enumerate(texts)
        ]
        if model == "fake-short":
            data = data[:-1]
        data.reverse()  # real servers may answer out of order; clients must sort by index
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return Reply(200, {"object": "list", "data": data, "model": model, "usage": usage})


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
    original_sleep = _openai._sleep
    _openai._sleep = lambda seconds: None  # no real waiting while recording
    try:
        return record_scenarios(CASSETTE_DIR, SCENARIOS, lambda: serve(_FakeOpenAI), only)
    finally:
        _openai._sleep = original_sleep


if __name__ == "__main__":
    for cassette in record(set(sys.argv[1:]) or None):
        print(f"wrote {cassette}")
