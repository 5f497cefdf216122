"""What extraction produces for a block, the protocol every model source implements, the
base prompt, and the parsing of a model's answer."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..errors import ExtractionError

MAX_SUMMARY_CHARS = 1000
MAX_CONTEXTS = 10
MAX_CONTEXT_CHARS = 64
MAX_FACTS = 20
MAX_FACT_CHARS = 500

Context = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CONTEXT_CHARS)
]


FactText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_FACT_CHARS)
]


class Extraction(BaseModel):
    """A block's summary and contexts (short topical tags), as the model states them, and
    the lasting facts a message states (asked for only when facts are managed)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUMMARY_CHARS)
    ]
    contexts: list[Context] = Field(default_factory=list, max_length=MAX_CONTEXTS)
    facts: list[FactText] = Field(default_factory=list, max_length=MAX_FACTS)


class FactDecision(BaseModel):
    """What to do with a new fact, given the user's similar facts (numbered from 1)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action: Literal["add", "update", "delete", "keep"]
    target: int | None = None
    text: FactText | None = None


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

FACTS_INSTRUCTION = (
    'Also list under "facts" the lasting facts the item states about the user or their world '
    "(preferences, plans, relationships, places, possessions), each one short standalone "
    "sentence that names who it is about; an empty list when it states none. Answer with one "
    'JSON object and nothing else: {"summary": "...", "contexts": ["..."], "facts": ["..."]}.'
)
"""Appended (instead of ``ANSWER_FORMAT``) when the block's facts are managed."""

DECISION_PROMPT = (
    "You keep a user's memory of facts current. You get a new fact and the user's most "
    "similar known facts, numbered. Decide one action: add (the new fact is new "
    "information), update (it revises or completes known fact N: give the one merged fact as "
    "text, which replaces N), delete (it shows known fact N is no longer true and adds "
    "nothing to keep), keep (it is already known). When a fact changed, such as a new home "
    "or job, update the old fact rather than adding a second one. Answer with one JSON "
    'object and nothing else: {"action": "add|update|delete|keep", "target": N or null, '
    '"text": "..." or null}.'
)
"""The prompt of the add / update / delete / keep decision for a new fact."""


@runtime_checkable
class Extractor(Protocol):
    """A model that answers a text under a system prompt (extraction and fact decisions).

    Raise :class:`~memory_integrations.errors.RateLimitError` (with ``retry_after`` when
    known) when the model is rate limited: the block waits without losing a try. Any other
    failure should raise :class:`~memory_integrations.errors.ExtractionError`: it counts
    as one failed try, as does an answer that does not parse. Implementations must be
    thread-safe.
    """

    @property
    def name(self) -> str: ...

    def answer(self, prompt: str, text: str) -> str:
        """The model's answer to ``text`` under the system ``prompt`` (which asks for JSON)."""
        ...


def extract(extractor: Extractor, text: str, prompt: str) -> Extraction:
    """``text``'s extraction by ``extractor`` under ``prompt`` (which ends with the format)."""
    return parse_extraction(extractor.answer(prompt, text), f"extraction model {extractor.name}")


def decide(extractor: Extractor, fact: str, known: list[str]) -> FactDecision:
    """The model's decision on a new ``fact`` given the user's ``known`` similar facts."""
    listed = "\n".join(f"{i}. {text}" for i, text in enumerate(known, 1))
    answer = extractor.answer(DECISION_PROMPT, f"New fact: {fact}\nKnown facts:\n{listed}")
    decision = _parse(answer, f"extraction model {extractor.name}", FactDecision)
    if decision.action in ("update", "delete") and not (
        decision.target is not None and 1 <= decision.target <= len(known)
    ):
        raise ExtractionError(
            f"extraction model {extractor.name} chose {decision.action} without a known fact "
            f"to apply it to (target {decision.target!r} of {len(known)})"
        )
    return decision


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_extraction(answer: str, source: str) -> Extraction:
    """The :class:`Extraction` in a model's answer: a JSON object, possibly fenced or with
    words around it. Anything else raises ``ExtractionError`` naming ``source``."""
    return _parse(answer, source, Extraction)


_Answer = TypeVar("_Answer", bound=BaseModel)


def _parse(answer: str, source: str, shape: type[_Answer]) -> _Answer:
    text = _FENCE.sub("", answer.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ExtractionError(
            f"{source} answered without a JSON object: {text[:200]!r}; the model must follow "
            "the answer format (a summary and contexts)"
        )
    try:
        data = json.loads(text[start : end + 1])
        return shape.model_validate(data)
    except (ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ExtractionError(
            f"{source} answered JSON that is not a valid {shape.__name__} ({reason}): "
            f"{text[start : end + 1][:200]!r}"
        ) from None
