"""Managed facts: what a conversation states becomes fact blocks that stay current.

With an extraction model, a message whose facts are managed yields facts (asked for with
its summary). Each new fact is compared with the user's most similar known facts, and the
model decides: add it, update a known fact with it (the old text is superseded, not kept
beside it), delete a known fact it shows is no longer true, or keep what is known. Without
a model, a fact that repeats a known one (the same text, or a cosine at or above
``fact_duplicate_similarity``) is not stored twice. Every change is recorded with who made
it, when, and which block caused it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from .. import validation
from .._models import FactChange, MemoryBlock
from ..errors import ConflictError, NotFoundError
from ..extraction import decide
from ..storage import EPOCH, from_us
from ..validation import AddRequest
from ._base import EngineBase, log

_SPACE = re.compile(r"\s+")


def _same(a: str, b: str) -> bool:
    """Whether two fact texts are the same up to case, spacing and a final full stop."""

    def norm(text: str) -> str:
        return _SPACE.sub(" ", text.strip().rstrip(".").lower())

    return norm(a) == norm(b)


@dataclass(frozen=True)
class FactOutcome:
    """What managing one new fact did."""

    action: Literal["add", "update", "delete", "keep"]
    text: str  # the text to add (for "add"), or the new fact
    block_id: str | None = None  # the known fact updated, deleted or kept


class FactManager(EngineBase):
    """Managed facts (a part of :class:`Engine`)."""

    def _manage_fact(self, user_id: str, fact: str, source: str | None) -> FactOutcome:
        """Compare a new fact with the user's known facts and apply the decision to them;
        an "add" outcome is left to the caller, which stores the new block."""
        engine: Any = self
        found: list[MemoryBlock] = engine.search_memory(
            user_id, None, query=fact, filters={"kind": "fact", "relevant_k": 5}
        ).memory_blocks
        for known in found:
            if known.fact is not None and _same(known.fact, fact):
                return FactOutcome("keep", fact, known.block_id)
        similar = [(b, b.similarity or 0.0) for b in found if b.fact is not None]
        if self.extractor is None:
            for known, similarity in similar:
                if similarity >= self.settings.fact_duplicate_similarity:
                    return FactOutcome("keep", fact, known.block_id)
            return FactOutcome("add", fact)
        candidates = [b for b, s in similar if s >= self.settings.fact_match_similarity]
        if not candidates:
            return FactOutcome("add", fact)
        decision = decide(self.extractor, fact, [str(b.fact) for b in candidates])
        text = decision.text or fact
        if decision.action == "add":
            return FactOutcome("add", text)
        target = candidates[(decision.target or 1) - 1]
        if decision.action == "keep":
            return FactOutcome("keep", fact, target.block_id)
        try:
            if decision.action == "update":
                engine.update_memory(
                    user_id, target.session_id, target.block_id, fact=text, async_processing=False
                )
            else:
                engine.delete_memory(user_id, target.session_id, [target.block_id])
        except (ConflictError, NotFoundError) as exc:  # changed meanwhile: add the new fact
            log.info("fact %s could not be %sd (%s); adding", target.block_id, decision.action, exc)
            return FactOutcome("add", fact)
        change = (target.fact, text if decision.action == "update" else None)
        self._record_fact_change(user_id, target.block_id, decision.action, change, source)
        return FactOutcome(decision.action, text, target.block_id)

    def _manage_added_facts(
        self, user_id: str, request: AddRequest, rejected: list[dict[str, Any]]
    ) -> tuple[AddRequest, list[dict[str, Any]]]:
        """The facts of an add that are new; the others are reported as not stored, with
        what became of them (repeats of a known fact, or merged into one)."""
        dropped = {r["index"] for r in rejected}
        positions = [i for i in range(request.count + len(rejected)) if i not in dropped]
        keep: list[int] = []
        texts: list[str] = []
        for n, fact in enumerate(request.facts):
            outcome = self._manage_fact(user_id, fact, None)
            if outcome.action == "add" and not any(_same(outcome.text, t) for t in texts):
                keep.append(n)
                texts.append(outcome.text)
                continue
            reason = {
                "keep": f"already known as fact {outcome.block_id}",
                "add": "repeats an earlier fact of this call",
                "update": f"merged into known fact {outcome.block_id}, which was updated",
                "delete": f"known fact {outcome.block_id} no longer holds and was deleted",
            }[outcome.action]
            rejected.append(
                {
                    "index": positions[n],
                    "reason": reason,
                    "action": outcome.action,
                    "block_id": outcome.block_id,
                }
            )
        rejected.sort(key=lambda r: int(r["index"]))
        return request.only(keep, texts), rejected

    def _fact_actor(self) -> str:
        """Who decides on facts: the extraction model, or the engine without one."""
        return "engine" if self.extractor is None else self.extractor.name

    def _record_fact_change(
        self,
        user_id: str,
        block_id: str,
        action: str,
        change: tuple[str | None, str | None],
        source: str | None,
    ) -> None:
        with self.database.transaction() as cur:
            self._store.add_fact_change(
                cur, user_id, block_id, action, change, source, self._fact_actor(), self._now()
            )

    def _derive_facts(self, user_id: str, session_id: str, facts: list[str], source: str) -> None:
        """Manage the facts a message stated; the added ones become fact blocks of the
        message's session, linked to it."""
        engine: Any = self
        for fact in facts:
            outcome = self._manage_fact(user_id, fact, source)
            if outcome.action == "add":
                added = engine.add_memory(
                    user_id,
                    session_id,
                    facts=[outcome.text],
                    async_processing=False,
                    context_required=False,
                    manage_facts=False,
                )
                (block_id,) = added.block_ids
                with self.database.transaction() as cur:
                    self._store.set_block_source(cur, block_id, source)
                self._record_fact_change(user_id, block_id, "add", (None, outcome.text), source)

    def fact_history(self, user_id: str, block_id: str | None = None) -> list[FactChange]:
        """What fact management changed in a user's facts (or one fact), oldest first."""
        engine: Any = self
        if block_id is not None:
            validation.check_id(block_id, "block_id", allow_percent=True)
        engine.get_user(user_id)  # checks the id; NotFoundError for an unknown user
        with self.database.read() as cur:
            rows = self._store.fact_changes(cur, user_id, block_id)
        return [
            FactChange(
                block_id=r[0],
                action=r[1],  # type: ignore[arg-type]
                old_text=r[2],
                new_text=r[3],
                source_block_id=r[4],
                actor=r[5],
                at=from_us(r[6]) or EPOCH,
            )
            for r in rows
        ]
