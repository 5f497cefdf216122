"""``CrewMemory`` (a CrewAI ``Memory`` on the engine) and ``agent_memory_for_crew``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from crewai.llms.base_llm import BaseLLM
from crewai.memory.types import MemoryMatch, MemoryRecord
from crewai.memory.unified_memory import Memory
from crewai.memory.utils import sanitize_scope_name
from pydantic import Field

from .._settings import Settings
from ..client import AgentMemoryClient, AsyncAgentMemoryClient
from ..errors import ConfigurationError
from ..offline import crewai_llm_from_env, is_offline, offline_crewai_class
from ..validation import check_optional_text, check_text, typed_validation
from ._storage import AgentMemoryStorage, ScoreScale

_RESULT = re.compile(r"^Result:[ \t]*", re.MULTILINE)
_FINAL = "Final Answer:"
_WRITE_QUEUE = ("_save_pool", "_pending_saves", "_pending_lock", "_reset_lock")


OfflineAnalysisLLM = offline_crewai_class()
"""The offline CrewAI LLM (``memory_integrations.offline``), kept under its old name."""


class _NeutralAnalysisLLM(OfflineAnalysisLLM):  # type: ignore[misc, valid-type]
    """The offline LLM for a memory that does not analyse: CrewAI asks it with structured
    output (``response_model``), so the one question it still asks, whether to merge a new
    record with similar ones, gets the neutral answer (keep both) instead of a parse error
    logged as a warning."""

    def supports_function_calling(self) -> bool:
        return True


def extract_result(content: str) -> list[str]:
    """The memories a crew task yields without an LLM: its ``Result:`` text, else all of it.

    CrewAI asks memory to extract facts from ``"Task: …\\nAgent: …\\nExpected result: …\\n
    Result: …"``; without analysis the agent's result (its ``Final Answer:`` part, if it has
    one) is kept whole as one memory.
    """
    text = check_text(content, "content", allow_empty=True).strip()
    if not text:
        return []
    found = list(_RESULT.finditer(text))
    if found and text.startswith("Task:"):
        text = text[found[-1].end() :]
    text = text.rpartition(_FINAL)[2].strip()  # a ReAct answer keeps only its final part
    return [text] if text else []


class CrewMemory(Memory):
    """CrewAI's unified ``Memory``, with an ``analysis`` switch and per-agent views.

    * ``analysis=False`` skips every LLM step: missing scope / categories / importance get
      the defaults (``/``, none, ``default_importance``), similar records are all kept
      (identical ones are stored once: see :class:`AgentMemoryStorage`),
      ``extract_memories`` keeps a task's result whole, and ``recall`` is always
      ``shallow``. Deterministic, offline, no API key.
    * With ``analysis=True`` and no ``llm`` given, when CrewAI's default model cannot be
      reached (no ``OPENAI_API_KEY``), the memory uses the model named by
      ``MEMORY_INTEGRATIONS_CHAT_MODEL``, else the offline model of
      :mod:`memory_integrations.offline`, which cannot analyse: the memory then works as
      with ``analysis=False`` (:attr:`analysing` is false) instead of logging an error at
      every step.
    * :meth:`for_agent` gives one agent a private memory on the same store.

    ``reset_all()`` (what ``Crew.reset_memories("memory")`` calls) clears only
    ``root_scope`` when one is set, so a crew never wipes other crews' memories.
    """

    analysis: bool = Field(default=True, description="Use the LLM to analyse memories.")

    def __init__(self, **data: Any) -> None:
        with typed_validation("CrewMemory"):
            super().__init__(**data)

    def model_post_init(self, __context: Any) -> None:
        extraction = Settings().extraction_model
        if self.analysis and "llm" not in self.model_fields_set and extraction:
            # The model the memory engine extracts with analyses CrewAI's memories too.
            self.llm = crewai_llm_for_extraction(extraction)
        elif (
            self.analysis
            and "llm" not in self.model_fields_set
            and not os.environ.get("OPENAI_API_KEY")
        ):
            # No model given, and CrewAI's default (an OpenAI model) has no key: it would log
            # "OPENAI_API_KEY is required" at every analysis. Use $MEMORY_INTEGRATIONS_CHAT_MODEL
            # if set, else the offline model, which does not analyse (see ``analysing``).
            self.llm = crewai_llm_from_env()
        if not self.analysing and not isinstance(self.llm, _NeutralAnalysisLLM):
            self.llm = _NeutralAnalysisLLM()
        super().model_post_init(__context)

    @property
    def analysing(self) -> bool:
        """Whether an LLM analyses memories: ``analysis`` on and a real model to do it."""
        return self.analysis and not is_offline(self.llm)

    def _fill(
        self, scope: str | None, categories: list[str] | None, importance: float | None
    ) -> tuple[str | None, list[str] | None, float | None]:
        if self.analysing:
            return scope, categories, importance
        return (
            "/" if scope is None else scope,
            [] if categories is None else categories,
            self.default_importance if importance is None else importance,
        )

    def remember(
        self,
        content: str,
        scope: str | None = None,
        categories: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        importance: float | None = None,
        source: str | None = None,
        private: bool = False,
        agent_role: str | None = None,
        root_scope: str | None = None,
    ) -> MemoryRecord | None:
        """Store one item (see ``Memory.remember``); without analysis, defaults fill in."""
        scope, categories, importance = self._fill(scope, categories, importance)
        return super().remember(
            content,
            scope=scope,
            categories=categories,
            metadata=metadata,
            importance=importance,
            source=source,
            private=private,
            agent_role=agent_role,
            root_scope=root_scope,
        )

    def remember_many(
        self,
        contents: list[str],
        scope: str | None = None,
        categories: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        importance: float | None = None,
        source: str | None = None,
        private: bool = False,
        agent_role: str | None = None,
        root_scope: str | None = None,
    ) -> list[MemoryRecord]:
        """Store items in the background (see ``Memory.remember_many``)."""
        scope, categories, importance = self._fill(scope, categories, importance)
        return super().remember_many(
            contents,
            scope=scope,
            categories=categories,
            metadata=metadata,
            importance=importance,
            source=source,
            private=private,
            agent_role=agent_role,
            root_scope=root_scope,
        )

    def recall(
        self,
        query: str,
        scope: str | None = None,
        categories: list[str] | None = None,
        limit: int = 10,
        depth: Literal["shallow", "deep"] = "deep",
        source: str | None = None,
        include_private: bool = False,
    ) -> list[MemoryMatch]:
        """Relevant memories, best first (always ``shallow`` when analysis is off)."""
        return super().recall(
            query,
            scope=scope,
            categories=categories,
            limit=limit,
            depth=depth if self.analysing else "shallow",
            source=source,
            include_private=include_private,
        )

    def extract_memories(self, content: str) -> list[str]:
        """Facts to remember from raw content (the LLM's, or :func:`extract_result`)."""
        if self.analysing:
            return super().extract_memories(content)
        return extract_result(content)

    def reset_all(self) -> None:
        """Clear ``root_scope`` when set (the whole store otherwise)."""
        if self.root_scope:
            self.reset()
        else:
            super().reset_all()

    def for_agent(self, agent: str) -> CrewMemory:
        """A memory for one agent: the same store and settings, private to ``agent``.

        Give it to ``Agent(memory=...)``. What that agent stores is private to it (CrewAI
        files a task's lessons under ``<root>/agent/<role>``); its recall sees its own
        private records plus everything shared, and the other agents' recall (through
        the crew memory) never sees them. It shares this memory's background write queue,
        so a recall by either waits for both's pending writes. Needs an
        :class:`AgentMemoryStorage`.
        """
        storage = self.storage
        if not isinstance(storage, AgentMemoryStorage):
            raise ConfigurationError(
                f"for_agent() needs a Memory on AgentMemoryStorage, not {type(storage).__name__}"
            )
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values["storage"] = storage.for_agent(agent)
        view = type(self)(**values)
        # One write queue for the crew and its agents, so every recall (which first waits
        # for pending writes) sees what any of them stored before it.
        for name in _WRITE_QUEUE:
            if name in (self.__pydantic_private__ or {}):
                setattr(view, name, getattr(self, name))
        return view


def agent_memory_for_crew(
    client: AgentMemoryClient | AsyncAgentMemoryClient | str | Path | None = None,
    *,
    crew_name: str | None = None,
    root_scope: str | None = None,
    user_id: str = "crewai",
    session_id: str = "crewai",
    analysis: bool = True,
    llm: BaseLLM | str | None = None,
    score_scale: ScoreScale = "lancedb",
    embedder: Any = None,
    **memory_kwargs: Any,
) -> CrewMemory:
    """One call: a CrewAI ``Memory`` on the memory engine with a local embedder.

    Pass the result as ``Crew(memory=...)`` (or ``Agent(memory=...)``). ``client`` is a
    client or a database path (default: ``./agent-memory.sqlite3``). ``crew_name`` sets
    ``root_scope`` to ``/crew/<name>`` as ``Crew(memory=True)`` would, which keeps the
    crew's memories (and ``reset_memories``) to themselves. ``analysis=False`` needs no
    LLM at all; with ``analysis=True`` give ``llm=``, or set ``OPENAI_API_KEY`` for
    CrewAI's default model. With neither, no model is contacted: the memory uses
    ``MEMORY_INTEGRATIONS_CHAT_MODEL``'s model if set, else the offline model, and then
    works without analysis (see :class:`CrewMemory`). ``embedder`` is the crew's embedder
    (a callable or a CrewAI embedder config); by default the engine's local model, which
    lets the storage rank with the engine's hybrid search. Other keyword arguments go to
    ``Memory`` (weights, ``read_only``, …).
    """
    check_optional_text(crew_name, "crew_name")
    check_optional_text(root_scope, "root_scope")
    storage = AgentMemoryStorage(
        client, user_id=user_id, session_id=session_id, score_scale=score_scale
    )
    if root_scope is None and crew_name is not None:
        root_scope = f"/crew/{sanitize_scope_name(crew_name)}"
    kwargs: dict[str, Any] = dict(memory_kwargs)
    if llm is not None:
        kwargs["llm"] = llm
    try:
        return CrewMemory(
            storage=storage,
            embedder=storage.embedder if embedder is None else embedder,
            root_scope=root_scope,
            analysis=analysis,
            **kwargs,
        )
    except BaseException:
        storage.close()  # refused: do not leave a client it opened behind
        raise


def crewai_llm_for_extraction(spec: str) -> Any:
    """CrewAI's ``LLM`` for a ``MEMORY_INTEGRATIONS_EXTRACTION_MODEL`` spec:
    ``openai-compatible:<model>`` at ``MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL`` (else
    ``OPENAI_BASE_URL``), or ``<provider>:<model>`` as CrewAI's ``<provider>/<model>``."""
    from crewai import LLM as CrewLLM

    provider, _, model = spec.partition(":")
    if not model:
        raise ConfigurationError(
            f"MEMORY_INTEGRATIONS_EXTRACTION_MODEL={spec!r} is not '<provider>:<model>' or "
            "'openai-compatible:<model>'"
        )
    if provider != "openai-compatible":
        return CrewLLM(model=f"{provider}/{model}")
    base_url = os.environ.get("MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL") or os.environ.get(
        "OPENAI_BASE_URL"
    )
    return CrewLLM(
        model=f"openai/{model}",
        base_url=base_url,
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
    )
