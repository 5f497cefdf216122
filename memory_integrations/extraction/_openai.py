"""Extraction through any OpenAI-compatible ``/chat/completions`` endpoint, over httpx."""

from __future__ import annotations

import os
from typing import Any

import httpx

from .._http import error_message, parse_retry_after, snippet
from ..errors import ConfigurationError, ExtractionError, RateLimitError
from ._base import Extraction, extract

OPENAI_BASE_URL = "https://api.openai.com/v1"

_CONFIG_STATUSES = {
    401: "the API key was rejected; set OPENAI_API_KEY or pass api_key=",
    403: "the API key lacks permission for this model",
    404: "the endpoint or model was not found; check base_url (it should end in /v1) and the "
    "model name",
}


class OpenAICompatibleExtractor:
    """Extracts through ``POST {base_url}/chat/completions`` (OpenAI, Ollama, vLLM, LiteLLM).

    One request per block, at temperature 0, asking for a JSON object
    (``response_format`` ``json_object``, which servers that do not know it ignore), with at
    most ``max_tokens`` tokens of answer. It does not retry by itself: a 429 raises
    :class:`~memory_integrations.errors.RateLimitError` with the server's ``Retry-After``
    (the engine waits that long, without counting a failed try); a timeout, a 5xx or an
    answer that does not parse raises
    :class:`~memory_integrations.errors.ExtractionError` (one failed try); a rejected key, a
    wrong URL or an unknown model raise
    :class:`~memory_integrations.errors.ConfigurationError`.
    """

    def __init__(
        self,
        model: str,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        *,
        max_tokens: int = 300,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not model:
            raise ConfigurationError("OpenAICompatibleExtractor needs a model name, got ''.")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url must be an http(s) URL such as {OPENAI_BASE_URL!r}, got {base_url!r}."
            )
        if max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be positive, got {max_tokens}.")
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._max_tokens = max_tokens
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"OpenAICompatibleExtractor(model={self._model!r}, base_url={self._base_url!r})"

    @property
    def name(self) -> str:
        return f"openai-compatible:{self._model}"

    def close(self) -> None:
        """Close the HTTP client (if this extractor created it)."""
        if self._owns_client:
            self._client.close()

    def extract(self, text: str, prompt: str) -> Extraction:
        """``text``'s summary and contexts under ``prompt`` (which ends with the format)."""
        return extract(self, text, prompt)

    def answer(self, prompt: str, text: str) -> str:
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": [
                {"role": "system", "content": prompt},
                {"role": "user", "content": text},
            ],
            "temperature": 0,
            "max_tokens": self._max_tokens,
            "response_format": {"type": "json_object"},
        }
        url = f"{self._base_url}/chat/completions"
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            response = self._client.post(url, json=payload, headers=headers, timeout=self._timeout)
        except httpx.TransportError as exc:
            raise ExtractionError(
                f"could not reach the extraction endpoint {url} ({type(exc).__name__}: {exc}); "
                "check that the server runs and base_url is right"
            ) from exc
        status = response.status_code
        if status == 429:
            raise RateLimitError(
                f"the extraction endpoint {url} is rate limiting: {error_message(response)}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in _CONFIG_STATUSES:
            raise ConfigurationError(
                f"the extraction endpoint {url} answered {status} for model {self._model!r}: "
                f"{_CONFIG_STATUSES[status]}. Server said: {error_message(response)}",
                details={"status_code": status},
            )
        if status >= 300:
            raise ExtractionError(
                f"the extraction endpoint {url} answered {status} for model {self._model!r}: "
                f"{error_message(response)}",
                details={"status_code": status},
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ExtractionError(
                f"the extraction endpoint {url} answered {status} with a body that is not a "
                f"chat completion: {snippet(response.text)!r}"
            ) from None
        if not isinstance(content, str):
            raise ExtractionError(f"the extraction endpoint {url} returned no message content")
        return content
