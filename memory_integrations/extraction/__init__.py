"""Semantic extraction: a model turns each block into a summary and contexts.

Off unless a model is configured: ``AgentMemoryClient(extractor=...)`` with any LangChain
chat model, an :class:`Extractor`, or a spec string; or the environment variable
``MEMORY_INTEGRATIONS_EXTRACTION_MODEL`` (see :func:`resolve_extractor`).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from ..errors import ConfigurationError
from ._base import (
    ANSWER_FORMAT,
    BASE_PROMPT,
    DECISION_PROMPT,
    FACTS_INSTRUCTION,
    MAX_CONTEXT_CHARS,
    MAX_CONTEXTS,
    MAX_SUMMARY_CHARS,
    Extraction,
    Extractor,
    FactDecision,
    decide,
    extract,
    parse_extraction,
)
from ._chat import ChatModelExtractor
from ._openai import OPENAI_BASE_URL, OpenAICompatibleExtractor

_ACCEPTED = (
    "None (no extraction), an Extractor, a LangChain chat model, "
    "'openai-compatible:<model>' (base URL from MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL or "
    "OPENAI_BASE_URL), or an init_chat_model spec such as 'openai:gpt-4o-mini'"
)


def _is_extractor(obj: object) -> bool:
    for attr in ("name", "answer"):
        try:
            inspect.getattr_static(obj, attr)
        except AttributeError:
            return False
    return True


def resolve_extractor(spec: Any, *, max_tokens: int = 300) -> Extractor | None:
    """The extractor ``spec`` names, or None for no extraction.

    ``spec`` may be None or "" (off), an :class:`Extractor`, a LangChain chat model, the
    string ``"openai-compatible:<model>"`` (HTTP, no LangChain needed; base URL from
    ``MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL``, else ``OPENAI_BASE_URL``, else OpenAI's),
    or any other ``"<provider>:<model>"`` string, given to LangChain's ``init_chat_model``.
    """
    if spec is None or spec == "":
        return None
    if isinstance(spec, str):
        provider, _, model = spec.partition(":")
        if not model:
            raise ConfigurationError(f"extraction model {spec!r} is not one of: {_ACCEPTED}")
        if provider == "openai-compatible":
            base_url = os.environ.get("MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL") or os.environ.get(
                "OPENAI_BASE_URL", OPENAI_BASE_URL
            )
            return OpenAICompatibleExtractor(model, base_url, max_tokens=max_tokens)
        try:
            from langchain.chat_models import init_chat_model
        except ImportError as exc:
            raise ConfigurationError(
                f"extraction model {spec!r} needs LangChain's init_chat_model: "
                'pip install "memory-integrations[langchain]" and the provider\'s package '
                f"(e.g. langchain-openai), or use 'openai-compatible:{model}' ({exc})"
            ) from exc
        try:
            chat = init_chat_model(spec, temperature=0, max_tokens=max_tokens)
        except Exception as exc:
            raise ConfigurationError(
                f"extraction model {spec!r} could not be created by init_chat_model: {exc}"
            ) from exc
        return ChatModelExtractor(chat, name=spec)
    if _is_extractor(spec) and not callable(getattr(spec, "invoke", None)):
        return spec  # type: ignore[no-any-return]
    if callable(getattr(spec, "invoke", None)):
        return ChatModelExtractor(spec)
    raise ConfigurationError(f"extractor must be one of: {_ACCEPTED}; got {type(spec).__name__}")


__all__ = [
    "ANSWER_FORMAT",
    "BASE_PROMPT",
    "DECISION_PROMPT",
    "FACTS_INSTRUCTION",
    "MAX_CONTEXTS",
    "MAX_CONTEXT_CHARS",
    "MAX_SUMMARY_CHARS",
    "OPENAI_BASE_URL",
    "ChatModelExtractor",
    "Extraction",
    "Extractor",
    "FactDecision",
    "OpenAICompatibleExtractor",
    "decide",
    "extract",
    "parse_extraction",
    "resolve_extractor",
]
