"""Extraction by any LangChain chat model (``BaseChatModel``), e.g. from ``init_chat_model``."""

from __future__ import annotations

from typing import Any

from .._http import parse_retry_after
from ..errors import AgentMemoryError, ExtractionError, RateLimitError
from ._base import Extraction, extract


class ChatModelExtractor:
    """Extracts with a LangChain chat model: the prompt as the system message, the block's
    text as the human message, the answer parsed as JSON.

    A provider's rate-limit error (HTTP 429, or an exception class named ``*RateLimit*``)
    becomes :class:`~memory_integrations.errors.RateLimitError` with the provider's
    ``Retry-After`` when it gives one; every other error is an
    :class:`~memory_integrations.errors.ExtractionError`.
    """

    def __init__(self, model: Any, *, name: str | None = None) -> None:
        if not callable(getattr(model, "invoke", None)):
            raise TypeError(f"expected a LangChain chat model, got {type(model).__name__}")
        self._model = model
        self._name = name or f"langchain:{_model_label(model)}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> Any:
        """The wrapped chat model."""
        return self._model

    def extract(self, text: str, prompt: str) -> Extraction:
        """``text``'s summary and contexts under ``prompt`` (which ends with the format)."""
        return extract(self, text, prompt)

    def answer(self, prompt: str, text: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        try:
            reply = self._model.invoke([SystemMessage(prompt), HumanMessage(text)])
        except AgentMemoryError:
            raise
        except Exception as exc:
            if _is_rate_limit(exc):
                raise RateLimitError(
                    f"extraction model {self._name} is rate limited: {exc}",
                    retry_after=_retry_after(exc),
                ) from exc
            raise ExtractionError(f"extraction model {self._name} failed: {exc}") from exc
        content = getattr(reply, "content", reply)
        if isinstance(content, list):  # content blocks: keep the text parts
            content = "".join(
                part if isinstance(part, str) else str(part.get("text", ""))
                for part in content
                if isinstance(part, (str, dict))
            )
        return str(content)


def _model_label(model: Any) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def _status(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _is_rate_limit(exc: BaseException) -> bool:
    return _status(exc) == 429 or "ratelimit" in type(exc).__name__.lower()


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        return parse_retry_after(headers.get("retry-after"))
    except AttributeError:
        return None
