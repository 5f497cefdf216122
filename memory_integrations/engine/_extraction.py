"""The extraction stage of processing: a configured model gives each block a summary and
contexts, under the block's prompt (the base prompt, or a registry prompt's version).

Off when no extractor is configured. A block is extracted unless its ``context_required``
is false or it carries the annotation ``extraction: "off"`` (for private or bulky text).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .. import validation
from .._models import ComponentHealth
from ..errors import ExtractionError, RateLimitError, ValidationError
from ..extraction import (
    ANSWER_FORMAT,
    BASE_PROMPT,
    FACTS_INSTRUCTION,
    Extraction,
    extract,
)
from ..storage import dumps
from ._base import EngineBase, log
from ._rows import stored_annotations

OPT_OUT_ANNOTATION = ("extraction", "off")
"""An annotation that keeps a block away from the extraction model."""

RATE_LIMIT_WAIT = 5.0  # seconds, when a rate-limited model does not say how long


@dataclass(frozen=True)
class ExtractionJob:
    seq: int
    text: str
    prompt_id: str | None
    prompt_vid: int | None
    facts: bool = False  # also ask for the facts the text states


@dataclass
class ExtractionOutcome:
    """What one round of extraction did with its jobs."""

    done: dict[int, Extraction]
    failed: dict[int, str]  # seq -> why
    rate_limited: dict[int, float]  # seq -> seconds to wait


def wants_extraction(context_required: Any, annotations: Any) -> bool:
    """Whether a block with these stored values is to be extracted (given a model)."""
    if context_required is not None and not bool(context_required):
        return False
    notes = annotations if isinstance(annotations, dict) else stored_annotations(annotations)
    key, value = OPT_OUT_ANNOTATION
    return notes.get(key) != value


def derives_facts(manage_facts: Any, kind: str) -> bool:
    """Whether extraction also asks a block for the facts it states (managed messages)."""
    return bool(manage_facts) and kind == "message"


def stored_extraction(extraction: Extraction) -> tuple[str, str]:
    """The summary and contexts columns of an extraction."""
    return extraction.summary, dumps(list(extraction.contexts))


class ExtractionStage(EngineBase):
    """Runs the configured extractor over blocks (a part of :class:`Engine`)."""

    def _prompt_choice(
        self,
        prompt_id: str | None,
        prompt_vid: int | None,
        context_required: bool | None,
        *,
        check: bool = True,
    ) -> tuple[str | None, int | None, int | None]:
        """The (prompt_id, prompt_vid, context_required) columns for a call's choice; a named
        prompt must exist and not be archived (its current version when no vid is given)."""
        if context_required is not None:
            validation.check_bool(context_required, "context_required")
        if prompt_vid is not None:
            validation.check_int(prompt_vid, "prompt_vid", 0, 2**31 - 1)
            if prompt_id is None:
                raise ValidationError("prompt_vid needs prompt_id: name the prompt it belongs to")
        if prompt_id == "default":  # the base prompt
            prompt_id, prompt_vid = None, None
        if prompt_id is not None:
            if context_required is False:
                raise ValidationError(
                    "context_required=False cannot be combined with prompt_id: a prompt is "
                    "only used by extraction"
                )
            if check:
                prompt_vid = self.prompts.check_usable(prompt_id, prompt_vid)
        return prompt_id, prompt_vid, None if context_required is None else int(context_required)

    def _llm_health(self) -> ComponentHealth:
        """The extraction model's part of the health report (not called: it costs money)."""
        if self.extractor is None:
            return ComponentHealth(status="not_used", details={"reason": "no extraction model"})
        return ComponentHealth(status="configured", model=self.extractor.name)

    def _move_prompt_stamps(self) -> None:
        """Once per store: move prompt stamps an older server kept in block metadata into
        the prompt columns (safe to run in several processes at once)."""
        with self.database.read() as cur:
            if self._store.get_meta(cur, "prompt_stamps_moved"):
                return
        after: int | None = 0
        while after is not None:
            with self.database.transaction() as cur:
                after = self._store.move_prompt_stamps(cur, after, 500)
        with self.database.transaction() as cur:
            self._store.set_meta(cur, "prompt_stamps_moved", "1")

    def _prompt(self, cur: Any, prompt_id: str | None, vid: int | None, facts: bool) -> str:
        """The full prompt of a job: its registry text (the base prompt for none, for
        "default", and for a purged prompt) and the answer format (asking for facts too)."""
        text = None
        if prompt_id is not None and prompt_id != "default":
            text = self._store.prompt_text(cur, prompt_id, vid)
        return f"{text or BASE_PROMPT}\n\n{FACTS_INSTRUCTION if facts else ANSWER_FORMAT}"

    def _extract(self, jobs: Sequence[ExtractionJob]) -> ExtractionOutcome:
        """Extract each job, ``extraction_concurrency`` model calls at a time; a failure of
        one never fails the others, and once the model says wait, the jobs not yet started
        wait too."""
        outcome = ExtractionOutcome(done={}, failed={}, rate_limited={})
        extractor = self.extractor
        if extractor is None or not jobs:
            return outcome
        with self.database.read() as cur:
            prompts = {(j.prompt_id, j.prompt_vid, j.facts): "" for j in jobs}
            for key in prompts:
                prompts[key] = self._prompt(cur, *key)
        limit = 4 * self.settings.extraction_max_input_tokens

        def run(job: ExtractionJob) -> None:
            try:
                prompt = prompts[(job.prompt_id, job.prompt_vid, job.facts)]
                outcome.done[job.seq] = extract(extractor, job.text[:limit], prompt)
            except RateLimitError as exc:
                outcome.rate_limited[job.seq] = float(exc.retry_after or RATE_LIMIT_WAIT)
            except Exception as exc:  # any model failure is one failed try of this block
                log.warning("extracting block seq %d failed: %s", job.seq, exc)
                outcome.failed[job.seq] = str(exc)

        width = self.settings.extraction_concurrency
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="extraction") as pool:
            for start in range(0, len(jobs), width):
                wave = jobs[start : start + width]
                if outcome.rate_limited:  # the model said wait: the rest waits too
                    wait = max(outcome.rate_limited.values())
                    outcome.rate_limited.update({job.seq: wait for job in wave})
                    continue
                list(pool.map(run, wave))
        return outcome

    def _extract_now(
        self,
        texts: Sequence[str],
        prompt_id: str | None,
        prompt_vid: int | None,
        facts: bool = False,
    ) -> list[Extraction]:
        """Extract blocks of a call that waits for processing; raises what failed."""
        jobs = [
            ExtractionJob(i, text, prompt_id, prompt_vid, facts) for i, text in enumerate(texts)
        ]
        outcome = self._extract(jobs)
        if outcome.rate_limited:
            raise RateLimitError(
                "the extraction model is rate limited; retry after the indicated delay, or add "
                "with async_processing=True to let the engine wait for it",
                retry_after=max(outcome.rate_limited.values()),
            )
        if outcome.failed:
            raise ExtractionError(
                f"extraction failed, nothing was stored: {next(iter(outcome.failed.values()))}; "
                "retry, or add with async_processing=True to have failures retried"
            )
        return [outcome.done[i] for i in range(len(texts))]
