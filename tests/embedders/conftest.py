"""Shared fixtures of the embedder tests: cassette replay and the fake server's vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vcr

CASSETTE_DIR = Path(__file__).parent / "cassettes"
FAKE_BASE_URL = "http://fake-openai.invalid/v1"
"""The base URL every cassette is recorded under (the real fake server's address is rewritten)."""
FAKE_API_KEY = "sk-test-not-a-secret"
FAKE_DIM = 8


def fake_vector(text: str, dim: int = FAKE_DIM) -> list[float]:
    """The deterministic, deliberately unnormalised vector the fake server returns."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((byte - 127.5) / 42.5, 6) for byte in digest[:dim]]


def _drop_date(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"].pop("date", None)
    response["headers"].pop("Date", None)
    return response


def make_vcr(record_mode: str, before_record_request: Any = None) -> vcr.VCR:
    """The VCR configuration used both to record and to replay the cassettes."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        # No credentials, and nothing that changes from one recording to the next.
        filter_headers=["authorization", "host", "user-agent"],
        before_record_request=before_record_request,
        before_record_response=_drop_date,
        decode_compressed_response=True,
    )


@dataclass(frozen=True)
class FakeOpenAI:
    """What the tests need to know about the recorded fake server."""

    base_url: str = FAKE_BASE_URL
    api_key: str = FAKE_API_KEY
    dim: int = FAKE_DIM

    @staticmethod
    def vector(text: str, dim: int = FAKE_DIM) -> list[float]:
        return fake_vector(text, dim)


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    """Base URL, key and vector function of the fake server the cassettes were recorded on."""
    return FakeOpenAI()


@pytest.fixture
def cassette() -> Iterator[Any]:
    """``with cassette("name"):`` replays ``cassettes/name.yaml``; unrecorded requests fail."""
    replayer = make_vcr("none")

    def use(name: str) -> Any:
        return replayer.use_cassette(f"{name}.yaml", allow_playback_repeats=False)

    yield use


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records (instead of doing) the retry waits of the OpenAI-compatible embedder."""
    from memory_integrations.embedders import _openai

    waits: list[float] = []
    monkeypatch.setattr(_openai, "_sleep", waits.append)
    return waits
