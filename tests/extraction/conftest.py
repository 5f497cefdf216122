"""Shared fixtures of the extraction tests: cassette replay and what the stub server answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._openai_stub import FAKE_API_KEY, FAKE_BASE_URL, replayer

CASSETTE_DIR = Path(__file__).parent / "cassettes"
STUB_MODEL = "stub-model"
SUMMARY_CHARS = 60

# The inputs record_cassettes.py records with; test_extractor_openai.py replays the same
# (the cassettes match on the request body, so a different input is not replayed).
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
def cassette() -> Callable[[str], Any]:
    """``with cassette("name"):`` replays ``cassettes/name.yaml``; unrecorded requests fail."""
    return replayer(CASSETTE_DIR)
