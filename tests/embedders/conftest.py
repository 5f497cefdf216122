"""Shared fixtures of the embedder tests: cassette replay and the fake server's vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._openai_stub import FAKE_API_KEY, FAKE_BASE_URL, replayer

CASSETTE_DIR = Path(__file__).parent / "cassettes"
FAKE_DIM = 8
# The inputs record_cassettes.py records with; test_embedder_openai.py replays the same.
CORPUS = [
    "Trains cross bridges",
    "Clouds block sunlight",
    "Rivers carve valleys",
    "Wolves hunt deer",
    "Engines power ships",
]


def fake_vector(text: str, dim: int = FAKE_DIM) -> list[float]:
    """The deterministic, deliberately unnormalised vector the fake server returns."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((byte - 127.5) / 42.5, 6) for byte in digest[:dim]]


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
def cassette() -> Callable[[str], Any]:
    """``with cassette("name"):`` replays ``cassettes/name.yaml``; unrecorded requests fail."""
    return replayer(CASSETTE_DIR)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records (instead of doing) the retry waits of the OpenAI-compatible embedder."""
    from memory_integrations.embedders import _openai

    waits: list[float] = []
    monkeypatch.setattr(_openai, "_sleep", waits.append)
    return waits
