"""Shared fixtures of the extraction tests: cassette replay and what the stub server answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vcr  # type: ignore[import-untyped]

CASSETTE_DIR = Path(__file__).parent / "cassettes"
FAKE_BASE_URL = "http://fake-openai.invalid/v1"
"""The base URL every cassette is recorded under (the stub server's real address is rewritten)."""
FAKE_API_KEY = "sk-test-not-a-secret"
STUB_MODEL = "stub-model"
SUMMARY_CHARS = 60


def stub_extraction(text: str) -> dict[str, Any]:
    """The extraction the stub server derives from a user message: ``Summary: `` and the
    first 60 characters, and the first two distinct lower-cased words of more than 3 letters."""
    contexts: list[str] = []
    for word in re.findall(r"[a-z]+", text.lower()):
        if len(word) > 3 and word not in contexts:
            contexts.append(word)
        if len(contexts) == 2:
            break
    return {"summary": f"Summary: {text[:SUMMARY_CHARS]}".strip(), "contexts": contexts}


def _drop_date(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"].pop("date", None)
    response["headers"].pop("Date", None)
    return response


def make_vcr(record_mode: str, before_record_request: Any = None) -> vcr.VCR:
    """The VCR configuration used both to record and to replay the cassettes."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode=record_mode,
        # The body is matched too: a request whose payload differs from the recorded one fails.
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        # No credentials, and nothing that changes from one recording to the next.
        filter_headers=["authorization", "host", "user-agent"],
        before_record_request=before_record_request,
        before_record_response=_drop_date,
        decode_compressed_response=True,
    )


@dataclass(frozen=True)
class StubLLM:
    """What the tests need to know about the recorded stub server."""

    base_url: str = FAKE_BASE_URL
    api_key: str = FAKE_API_KEY
    model: str = STUB_MODEL

    @staticmethod
    def extraction(text: str) -> dict[str, Any]:
        return stub_extraction(text)


@pytest.fixture
def stub_llm() -> StubLLM:
    """Base URL, key, model and answer function of the stub the cassettes were recorded on."""
    return StubLLM()


@pytest.fixture
def cassette() -> Iterator[Any]:
    """``with cassette("name"):`` replays ``cassettes/name.yaml``; unrecorded requests fail."""
    replayer = make_vcr("none")

    def use(name: str) -> Any:
        return replayer.use_cassette(f"{name}.yaml", allow_playback_repeats=False)

    yield use
