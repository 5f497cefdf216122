"""OpenAICompatibleEmbedder against recorded cassettes (see record_cassettes.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from memory_integrations.embedders import Embedder, OpenAICompatibleEmbedder
from memory_integrations.errors import ConfigurationError, EmbeddingError, ValidationError
from tests.embedders.conftest import CORPUS


def _unit(values: list[float]) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


Factory = Callable[..., OpenAICompatibleEmbedder]


@pytest.fixture
def fake_vector(fake_openai: Any) -> Callable[..., list[float]]:
    vector: Callable[..., list[float]] = fake_openai.vector
    return vector


@pytest.fixture
def embedder_for(fake_openai: Any) -> Factory:
    """Builds an embedder pointed at the fake server the cassettes were recorded on."""

    def build(model: str = "fake-embed-8", **kwargs: Any) -> OpenAICompatibleEmbedder:
        kwargs.setdefault("api_key", fake_openai.api_key)
        kwargs.setdefault("base_url", fake_openai.base_url)
        return OpenAICompatibleEmbedder(model, **kwargs)

    return build


def test_conforms_to_protocol(embedder_for: Factory) -> None:
    embedder = embedder_for(dimensions=8)
    assert isinstance(embedder, Embedder)
    assert embedder.name == "openai:fake-embed-8"
    assert embedder.dim == 8  # configured: no request needed


def test_batches_in_order_and_normalised(
    cassette: Any, fake_vector: Callable[..., list[float]], embedder_for: Factory
) -> None:
    embedder = embedder_for(batch_size=2)
    with cassette("embed_batches") as recorded:
        docs = embedder.embed_documents(CORPUS)
        query = embedder.embed_query("Sky illumination")
    # 5 texts in batches of 2 -> 3 requests, then the query.
    assert recorded.play_count == 4
    assert docs.shape == (5, 8)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-6)
    # The server answered each batch in reverse order; rows must follow the input.
    expected = np.stack([_unit(fake_vector(text)) for text in CORPUS])
    np.testing.assert_allclose(docs, expected, atol=1e-6)
    assert query.shape == (8,)
    np.testing.assert_allclose(query, _unit(fake_vector("Sky illumination")), atol=1e-6)
    assert embedder.dim == 8  # learnt from the first response


def test_dimensions_are_sent_and_checked(
    cassette: Any, fake_vector: Callable[..., list[float]], embedder_for: Factory
) -> None:
    embedder = embedder_for(dimensions=4)
    with cassette("dimensions"):  # the recorded request body carries "dimensions": 4
        vectors = embedder.embed_documents(["alpha", "beta"])
    assert vectors.shape == (2, 4)
    np.testing.assert_allclose(vectors[0], _unit(fake_vector("alpha", 4)), atol=1e-6)


def test_dim_is_probed_lazily(cassette: Any, embedder_for: Factory) -> None:
    embedder = embedder_for()
    with cassette("dim_probe") as recorded:
        assert embedder.dim == 8
        assert embedder.dim == 8
    assert recorded.play_count == 1


def test_rejected_key_is_a_configuration_error(
    cassette: Any, sleeps: list[float], embedder_for: Factory
) -> None:
    embedder = embedder_for(api_key="sk-wrong-key")
    with cassette("unauthorized"), pytest.raises(ConfigurationError) as caught:
        embedder.embed_query("hello")
    message = str(caught.value)
    assert "401" in message
    assert "OPENAI_API_KEY" in message
    assert "Incorrect API key provided" in message
    assert "sk-wrong-key" not in message
    assert caught.value.details["status_code"] == 401
    assert sleeps == []  # not retried


def test_unknown_model_is_a_configuration_error(cassette: Any, embedder_for: Factory) -> None:
    embedder = embedder_for("no-such-model")
    with cassette("unknown_model"), pytest.raises(ConfigurationError, match="no-such-model"):
        embedder.embed_query("hello")


def test_rate_limit_is_retried_after_retry_after(
    cassette: Any,
    sleeps: list[float],
    fake_vector: Callable[..., list[float]],
    embedder_for: Factory,
) -> None:
    embedder = embedder_for("fake-rate-limited")
    with cassette("rate_limited") as recorded:
        vectors = embedder.embed_documents(["alpha", "beta"])
    assert recorded.play_count == 2  # 429, then 200
    assert sleeps == [2.0]  # the server's Retry-After
    np.testing.assert_allclose(vectors[1], _unit(fake_vector("beta")), atol=1e-6)


def test_retry_after_is_capped(cassette: Any, sleeps: list[float], embedder_for: Factory) -> None:
    embedder = embedder_for("fake-rate-limited", max_retry_wait=0.5)
    with cassette("rate_limited"):
        embedder.embed_documents(["alpha", "beta"])
    assert sleeps == [0.5]


def test_server_errors_give_up_after_max_retries(
    cassette: Any, sleeps: list[float], embedder_for: Factory
) -> None:
    embedder = embedder_for("fake-unavailable", max_retries=2)
    with cassette("server_down") as recorded, pytest.raises(EmbeddingError) as caught:
        embedder.embed_query("hello")
    assert recorded.play_count == 3
    assert len(sleeps) == 2
    assert all(0 < wait <= 60 for wait in sleeps)
    assert "503" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    assert "overloaded" in str(caught.value)
    assert caught.value.category == "transient"


def test_wrong_number_of_embeddings(cassette: Any, embedder_for: Factory) -> None:
    embedder = embedder_for("fake-short")
    with cassette("malformed"), pytest.raises(EmbeddingError, match="1 embeddings for 2 inputs"):
        embedder.embed_documents(["alpha", "beta"])


def test_unreachable_server_is_an_embedding_error(
    sleeps: list[float], embedder_for: Factory
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    embedder = embedder_for(client=client, max_retries=1)
    with pytest.raises(EmbeddingError, match="Could not reach"):
        embedder.embed_query("hello")
    assert len(sleeps) == 1


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch, fake_openai: Any) -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [3.0, 4.0]}]})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    OpenAICompatibleEmbedder("m", base_url=fake_openai.base_url, client=client).embed_query("x")
    monkeypatch.delenv("OPENAI_API_KEY")
    vector = OpenAICompatibleEmbedder(
        "m", base_url=fake_openai.base_url, client=client
    ).embed_query("x")
    assert seen == ["Bearer sk-from-env", None]  # keyless servers (Ollama) get no header
    np.testing.assert_allclose(vector, [0.6, 0.8])


def test_empty_input_uses_known_dim(embedder_for: Factory) -> None:
    vectors = embedder_for(dimensions=8).embed_documents([])
    assert vectors.shape == (0, 8)


def test_rejects_a_bare_string(embedder_for: Factory) -> None:
    with pytest.raises(ValidationError):
        embedder_for(dimensions=8).embed_documents("hello")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": ""},
        {"model": "m", "base_url": "localhost:11434/v1"},
        {"model": "m", "dimensions": 0},
        {"model": "m", "batch_size": 0},
        {"model": "m", "max_retries": -1},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        OpenAICompatibleEmbedder(**kwargs)
