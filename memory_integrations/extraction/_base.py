"""What extraction produces for a block, the protocol every model source implements, the
base prompt, and the parsing of a model's answer."""

from __future__ import annotations

import json
import re
from typing import Annotated, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..errors import ExtractionError

MAX_SUMMARY_CHARS = 1000
MAX_CONTEXTS = 10
MAX_CONTEXT_CHARS = 64

Context = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CONTEXT_CHARS)
]


class Extraction(BaseModel):
    """A block's summary and contexts (short topical tags), as the model states them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUMMARY_CHARS)
    ]
    contexts: list[Context] = Field(default_factory=list, max_length=MAX_CONTEXTS)


BASE_PROMPT = (
    "You turn one item of an assistant's memory (a fact, or a chat message) into a short "
    "summary and a few contexts. The summary restates what the item says in one or two "
    "sentences, keeping names, numbers and dates; the contexts are 1 to 5 short topical tags "
    "(one to three words each, lower case) a later search could use, such as 'travel', "
    "'dietary preference' or 'billing'."
)
"""The extraction prompt used when a block names no prompt (``prompt_id`` "default")."""

ANSWER_FORMAT = (
    'Answer with one JSON object and nothing else: {"summary": "...", "contexts": ["...", ...]}.'
)
"""Appended to every prompt, the base one and the registry's, so answers parse the same."""


@runtime_checkable
class Extractor(Protocol):
    """Turns one block's text into an :class:`Extraction` under a prompt.

    Raise :class:`~memory_integrations.errors.RateLimitError` (with ``retry_after`` when
    known) when the model is rate limited: the block waits without losing a try. Any other
    failure, including an answer that does not parse, should raise
    :class:`~memory_integrations.errors.ExtractionError`: it counts as one failed try.
    Implementations must be thread-safe.
    """

    @property
    def name(self) -> str: ...

    def extract(self, text: str, prompt: str) -> Extraction:
        """Summarise ``text`` as ``prompt`` asks (the prompt ends with ``ANSWER_FORMAT``)."""
        ...


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_extraction(answer: str, source: str) -> Extraction:
    """The :class:`Extraction` in a model's answer: a JSON object, possibly fenced or with
    words around it. Anything else raises ``ExtractionError`` naming ``source``."""
    text = _FENCE.sub("", answer.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ExtractionError(
            f"{source} answered without a JSON object: {text[:200]!r}; the model must follow "
            "the answer format (a summary and contexts)"
        )
    try:
        data = json.loads(text[start : end + 1])
        return Extraction.model_validate(data)
    except (ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ExtractionError(
            f"{source} answered JSON that is not a summary with contexts ({reason}): "
            f"{text[start : end + 1][:200]!r}"
        ) from None
