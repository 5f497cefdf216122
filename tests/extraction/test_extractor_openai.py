"""OpenAICompatibleExtractor against recorded cassettes (see record_cassettes.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException  # type: ignore[import-untyped]

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConfigurationError, ExtractionError, RateLimitError
from memory_integrations.extraction import (
    ANSWER_FORMAT,
    BASE_PROMPT,
    OPENAI_BASE_URL,
    Extraction,
    Extractor,
    OpenAICompatibleExtractor,
    resolve_extractor,
)
from tests.extraction.conftest import CASSETTE_DIR, FACTS, MAX_TOKENS, PROMPT, TEXTS

Factory = Callable[..., OpenAICompatibleExtractor]


@pytest.fixture
def extractor_for(stub_llm: Any) -> Factory:
    """Builds an extractor pointed at the stub server the cassettes were recorded on."""

    def build(model: str | None = None, **kwargs: Any) -> OpenAICompatibleExtractor:
        kwargs.setdefault("api_key", stub_llm.api_key)
        kwargs.setdefault("base_url", stub_llm.base_url)
        return OpenAICompatibleExtractor(model or stub_llm.model, **kwargs)

    return build


def _body(request: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_conforms_to_protocol(extractor_for: Factory, stub_llm: Any) -> None:
    extractor = extractor_for()
    assert isinstance(extractor, Extractor)
    assert extractor.name == "openai-compatible:stub-model"
    assert repr(extractor) == (
        f"OpenAICompatibleExtractor(model='stub-model', base_url={stub_llm.base_url!r})"
    )


def test_success_parses_summary_and_contexts(
    cassette: Any, extractor_for: Factory, stub_llm: Any
) -> None:
    extractor = extractor_for(max_tokens=MAX_TOKENS)
    with cassette("extract_success") as recorded:
        results = [extractor.extract(text, PROMPT) for text in TEXTS]
    assert recorded.play_count == 2 and recorded.all_played
    assert results[0] == Extraction(
        summary="Summary: Ana flies to Lisbon in May and prefers a window seat on ever",
        contexts=["flies", "lisbon"],
    )
    assert results[1].summary == "Summary: The CFO approved the Q3 budget."
    assert results[1].contexts == ["approved", "budget"]
    for text, result in zip(TEXTS, results, strict=True):
        assert result.model_dump(exclude={"facts"}) == stub_llm.extraction(text)


def test_success_request_body(cassette: Any, extractor_for: Factory) -> None:
    extractor = extractor_for(max_tokens=MAX_TOKENS)
    with cassette("extract_success") as recorded:
        extractor.extract(TEXTS[0], PROMPT)
    request = recorded.requests[0]
    assert request.method == "POST"
    assert request.uri == "http://fake-openai.invalid/v1/chat/completions"
    assert request.headers["content-type"] == "application/json"
    assert _body(request) == {
        "model": "stub-model",
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": TEXTS[0]},
        ],
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
        "response_format": {"type": "json_object"},
    }


def test_a_different_request_body_is_not_replayed(cassette: Any, extractor_for: Factory) -> None:
    # vcr matches on the body: another max_tokens (or text) is an unrecorded request, and
    # record mode "none" fails it instead of reaching any server.
    with cassette("extract_success"), pytest.raises(CannotOverwriteExistingCassetteException):
        extractor_for(max_tokens=MAX_TOKENS + 1).extract(TEXTS[0], PROMPT)
    with cassette("extract_success"), pytest.raises(CannotOverwriteExistingCassetteException):
        extractor_for(max_tokens=MAX_TOKENS).extract("Something never recorded.", PROMPT)


def test_rate_limit_raises_with_retry_after(cassette: Any, extractor_for: Factory) -> None:
    extractor = extractor_for("stub-rate-limited")
    with cassette("rate_limited") as recorded, pytest.raises(RateLimitError) as caught:
        extractor.extract(TEXTS[0], PROMPT)
    assert recorded.play_count == 1  # not retried by the extractor itself
    assert caught.value.retry_after == 7.0
    assert caught.value.details["retry_after_seconds"] == 7.0
    assert "rate limiting" in str(caught.value)
    assert "Rate limit reached for requests" in str(caught.value)


def test_server_error_is_an_extraction_error(cassette: Any, extractor_for: Factory) -> None:
    extractor = extractor_for("stub-broken")
    with cassette("server_error"), pytest.raises(ExtractionError) as caught:
        extractor.extract(TEXTS[0], PROMPT)
    message = str(caught.value)
    assert "500" in message
    assert "'stub-broken'" in message
    assert "The server had an error processing your request" in message
    assert caught.value.details["status_code"] == 500
    assert caught.value.category == "transient"


def test_rejected_key_is_a_configuration_error(cassette: Any, extractor_for: Factory) -> None:
    extractor = extractor_for(api_key="sk-wrong-key")
    with cassette("unauthorized"), pytest.raises(ConfigurationError) as caught:
        extractor.extract(TEXTS[0], PROMPT)
    message = str(caught.value)
    assert "401" in message
    assert "API key" in message
    assert "OPENAI_API_KEY" in message and "api_key=" in message
    assert "Incorrect API key provided" in message
    assert "sk-wrong-key" not in message
    assert caught.value.details["status_code"] == 401


def test_content_that_is_not_json_is_an_extraction_error(
    cassette: Any, extractor_for: Factory
) -> None:
    extractor = extractor_for("stub-chatty")
    with cassette("not_json"), pytest.raises(ExtractionError) as caught:
        extractor.extract(TEXTS[0], PROMPT)
    message = str(caught.value)
    assert "without a JSON object" in message
    assert "I cannot do that" in message
    assert "stub-chatty" in message


def test_a_body_that_is_not_a_chat_completion_is_an_extraction_error(
    cassette: Any, extractor_for: Factory
) -> None:
    extractor = extractor_for("stub-not-chat")
    with cassette("not_chat_completion"), pytest.raises(ExtractionError) as caught:
        extractor.extract(TEXTS[0], PROMPT)
    assert "not a chat completion" in str(caught.value)
    assert '"foo": 1' in str(caught.value)


def test_engine_stores_the_extraction_and_search_finds_a_context(
    cassette: Any, stub_llm: Any, tmp_path: Path
) -> None:
    extractor = OpenAICompatibleExtractor(
        stub_llm.model, base_url=stub_llm.base_url, api_key=stub_llm.api_key
    )
    path = tmp_path / "m.sqlite3"
    with AgentMemoryClient(path, embedder=HashingEmbedder(), extractor=extractor) as client:
        session = client.create_user("u", "U").create_session("s")
        with cassette("engine_end_to_end") as recorded:
            session.add_memory(facts=FACTS, async_processing=False)
        assert recorded.play_count == 2 and recorded.all_played
        # The engine sent its base prompt and the fact.
        bodies = [_body(request) for request in recorded.requests]
        assert {body["messages"][1]["content"] for body in bodies} == set(FACTS)
        assert all(
            body["messages"][0]["content"] == f"{BASE_PROMPT}\n\n{ANSWER_FORMAT}" for body in bodies
        )

        blocks = {block.fact: block for block in session.list_memories().memory_blocks}
        assert set(blocks) == set(FACTS)
        for fact, block in blocks.items():
            expected = stub_llm.extraction(fact)
            assert block.summary == expected["summary"]
            assert block.contexts == expected["contexts"]
        assert blocks[FACTS[0]].contexts == ["marguerite", "collects"]
        assert blocks[FACTS[1]].summary == "Summary: Desmond trains falcons near Inverness."

        # No HTTP from here on: searching uses what was stored.
        assert session.search_memory(query="collects")[0].fact == FACTS[0]
        assert session.search_memory(query="desmond")[0].fact == FACTS[1]
    extractor.close()


def test_engine_passes_the_rate_limit_on(cassette: Any, stub_llm: Any, tmp_path: Path) -> None:
    extractor = OpenAICompatibleExtractor(
        "stub-rate-limited", base_url=stub_llm.base_url, api_key=stub_llm.api_key
    )
    path = tmp_path / "m.sqlite3"
    with AgentMemoryClient(path, embedder=HashingEmbedder(), extractor=extractor) as client:
        session = client.create_user("u", "U").create_session("s")
        with cassette("engine_rate_limited") as recorded, pytest.raises(RateLimitError) as caught:
            session.add_memory(facts=FACTS, async_processing=False)
        assert recorded.play_count == 2  # both facts asked at once (extraction_concurrency)
        assert caught.value.retry_after == 7.0
    extractor.close()


def test_resolve_uses_the_extraction_base_url(
    monkeypatch: pytest.MonkeyPatch, cassette: Any, stub_llm: Any
) -> None:
    monkeypatch.setenv("MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL", stub_llm.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere.invalid/v1")
    monkeypatch.setenv("OPENAI_API_KEY", stub_llm.api_key)
    extractor = resolve_extractor("openai-compatible:stub-model", max_tokens=MAX_TOKENS)
    assert isinstance(extractor, OpenAICompatibleExtractor)
    assert repr(extractor) == (
        f"OpenAICompatibleExtractor(model='stub-model', base_url={stub_llm.base_url!r})"
    )
    # And it really talks to that URL: the recorded request replays.
    with cassette("extract_success") as recorded:
        result = extractor.extract(TEXTS[1], PROMPT)
    assert recorded.play_count == 1
    assert result.contexts == ["approved", "budget"]


def test_resolve_base_url_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    assert "base_url='http://localhost:11434/v1'" in repr(
        resolve_extractor("openai-compatible:llama3")
    )
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert f"base_url={OPENAI_BASE_URL!r}" in repr(resolve_extractor("openai-compatible:m"))


def test_cassettes_hold_no_credentials() -> None:
    cassettes = sorted(CASSETTE_DIR.glob("*.yaml"))
    assert len(cassettes) == 8
    for cassette in cassettes:
        text = cassette.read_text()
        assert "authorization" not in text.lower(), cassette.name
        assert "sk-test-not-a-secret" not in text, cassette.name
        assert "sk-wrong-key" not in text, cassette.name
        assert "127.0.0.1" not in text, cassette.name  # the stub's real address is rewritten


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": ""},
        {"model": "m", "base_url": "localhost:11434/v1"},
        {"model": "m", "max_tokens": 0},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        OpenAICompatibleExtractor(**kwargs)
