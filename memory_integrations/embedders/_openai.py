"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Ollama, vLLM...)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from .._http import error_message as _error_message
from .._http import parse_retry_after as _parse_retry_after
from .._http import snippet as _snippet
from ..errors import ConfigurationError, EmbeddingError, ValidationError
from ._base import Vectors, check_texts, normalize_rows

OPENAI_BASE_URL = "https://api.openai.com/v1"

_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_CONFIG_STATUSES = {
    401: "the API key was rejected; set OPENAI_API_KEY or pass api_key=",
    403: "the API key lacks permission for this model; check the key's project and scopes",
    404: "the endpoint or model was not found; check base_url (it should end in /v1) "
    "and the model name",
}


class OpenAICompatibleEmbedder:
    """Embeds through ``POST {base_url}/embeddings`` of an OpenAI-compatible server.

    Works with OpenAI, Azure-style proxies, Ollama (``base_url="http://localhost:11434/v1"``)
    and vLLM. Vectors come back in input order and L2-normalised. Rate limits (429) and
    server errors (5xx) are retried with exponential backoff, honouring ``Retry-After``
    up to ``max_retry_wait`` seconds; other failures raise
    :class:`~memory_integrations.errors.EmbeddingError`, and a rejected key, a wrong URL or
    an unknown model raise :class:`~memory_integrations.errors.ConfigurationError`.

    Args:
        model: the model name the server knows, e.g. ``"text-embedding-3-small"``.
        base_url: the API root, up to and including ``/v1``.
        api_key: bearer token; defaults to the ``OPENAI_API_KEY`` environment variable.
            Servers that need no key (Ollama, a local vLLM) work without one.
        dimensions: the vector size. When given it is sent as the request's
            ``dimensions`` field (so text-embedding-3 and Matryoshka models shorten their
            vectors) unless ``send_dimensions`` is false, and every response is checked
            against it. When ``None`` the size is learnt from the first response; reading
            :attr:`dim` before any embedding then costs one small request.
        batch_size: texts per request.
        timeout: seconds per HTTP request.
        max_retries: retries after the first attempt for retryable failures.
        max_retry_wait: cap, in seconds, on any single wait between attempts.
        client: an ``httpx.Client`` to use (for proxies, custom TLS, tests); it is not
            closed by :meth:`close`.
        send_dimensions: whether a given ``dimensions`` is sent to the server; turn off for
            servers that reject the field.
    """

    def __init__(
        self,
        model: str,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        timeout: float = 60.0,
        *,
        max_retries: int = 5,
        max_retry_wait: float = 60.0,
        client: httpx.Client | None = None,
        send_dimensions: bool = True,
    ) -> None:
        if not model:
            raise ConfigurationError("OpenAICompatibleEmbedder needs a model name, got ''.")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url must be an http(s) URL such as {OPENAI_BASE_URL!r} or "
                f"'http://localhost:11434/v1', got {base_url!r}."
            )
        if dimensions is not None and dimensions < 1:
            raise ConfigurationError(f"dimensions must be positive, got {dimensions}.")
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}.")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be 0 or more, got {max_retries}.")
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._dimensions = dimensions
        self._send_dimensions = send_dimensions
        self._batch_size = batch_size
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._dim: int | None = dimensions
        self._dim_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"OpenAICompatibleEmbedder(model={self._model!r}, base_url={self._base_url!r}, "
            f"dimensions={self._dimensions!r})"
        )

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def model(self) -> str:
        """The model name sent to the server."""
        return self._model

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._base_url

    @property
    def dim(self) -> int:
        """The vector size; learnt from the server (one request) if not configured."""
        if self._dim is None:
            self.embed_query("dimension probe")
        assert self._dim is not None
        return self._dim

    def close(self) -> None:
        """Close the HTTP client this embedder created (a passed-in client stays open)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> OpenAICompatibleEmbedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in batches of ``batch_size``; returns ``(len(texts), dim)``."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            rows.extend(self._embed_batch(texts[start : start + self._batch_size]))
        return normalize_rows(np.asarray(rows, dtype=np.float32))

    def embed_query(self, text: str) -> Vectors:
        """Embed one query; returns a ``(dim,)`` unit vector."""
        if not isinstance(text, str):
            raise ValidationError(f"embed_query takes a str, got {type(text).__name__}.")
        vector: Vectors = self.embed_documents([text])[0]
        return vector

    # --- HTTP -------------------------------------------------------------------------

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        payload: dict[str, Any] = {"model": self._model, "input": batch}
        if self._dimensions is not None and self._send_dimensions:
            payload["dimensions"] = self._dimensions
        body = self._post(payload)
        return self._parse(body, len(batch))

    def _post(self, payload: dict[str, Any]) -> Any:
        url = f"{self._base_url}/embeddings"
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        attempt = 0
        while True:
            try:
                response = self._client.post(
                    url, json=payload, headers=headers, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                if attempt >= self._max_retries:
                    raise EmbeddingError(
                        f"Could not reach the embedding endpoint {url} after "
                        f"{attempt + 1} attempts ({type(exc).__name__}: {exc}); check that "
                        "the server is running and base_url is right.",
                    ) from exc
                _sleep(self._backoff(attempt, None))
                attempt += 1
                continue

            status = response.status_code
            if status < 300:
                try:
                    return response.json()
                except ValueError as exc:
                    raise EmbeddingError(
                        f"The embedding endpoint {url} answered {status} with a body that is "
                        f"not JSON: {_snippet(response.text)!r}",
                        details={"status_code": status},
                    ) from exc
            if status in _RETRY_STATUSES and attempt < self._max_retries:
                _sleep(self._backoff(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue

            reason = _error_message(response)
            if status in _CONFIG_STATUSES:
                raise ConfigurationError(
                    f"The embedding endpoint {url} answered {status} for model "
                    f"{self._model!r}: {_CONFIG_STATUSES[status]}. Server said: {reason}",
                    details={"status_code": status},
                )
            retried = f" after {attempt + 1} attempts" if attempt else ""
            raise EmbeddingError(
                f"The embedding endpoint {url} answered {status}{retried} for model "
                f"{self._model!r}. Server said: {reason}",
                details={"status_code": status},
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
            )

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        hinted = _parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self._max_retry_wait)
        # Full jitter keeps many clients from retrying in lock-step.
        return min(self._max_retry_wait, 0.5 * 2.0**attempt) * random.uniform(0.5, 1.0)

    def _parse(self, body: Any, expected: int) -> list[list[float]]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != expected:
            got = len(data) if isinstance(data, list) else "no"
            raise EmbeddingError(
                f"The embedding endpoint returned {got} embeddings for {expected} inputs "
                f"(model {self._model!r}); is it really OpenAI-compatible?",
            )
        try:
            items = sorted(data, key=lambda item: int(item.get("index", 0)))
            rows = [[float(x) for x in item["embedding"]] for item in items]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(
                f"The embedding endpoint returned malformed embeddings for model "
                f"{self._model!r} ({type(exc).__name__}: {exc}); expected "
                '{"data": [{"index": 0, "embedding": [...]}, ...]}.'
            ) from exc
        sizes = {len(row) for row in rows}
        if len(sizes) != 1 or 0 in sizes:
            raise EmbeddingError(
                f"The embedding endpoint returned vectors of sizes {sorted(sizes)} for model "
                f"{self._model!r}; expected one non-zero size."
            )
        size = sizes.pop()
        with self._dim_lock:
            if self._dim is None:
                self._dim = size
        if size != self._dim:
            raise ConfigurationError(
                f"Model {self._model!r} returned {size}-d vectors but this embedder expects "
                f"{self._dim}; set dimensions={size} (or drop it), or pick another model.",
            )
        return rows


def _sleep(seconds: float) -> None:
    # Indirection so tests can record the waits instead of sleeping.
    time.sleep(seconds)
