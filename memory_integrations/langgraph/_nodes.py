"""Graph nodes that run the search → inject → persist turn inside a LangGraph graph.

``AgentMemoryNodes`` gives three callables for a ``StateGraph`` over a messages state:

* ``recall`` — a node: searches memory for the last human message and writes the rendered
  memories to ``state["memory_context"]`` (not into the messages, so checkpoints stay clean);
* ``pre_model_hook`` — for agents that take one: returns ``llm_input_messages`` with the
  memories merged into the system message;
* ``persist`` — a node: stores the last human message and the last AI answer as one exchange.

Ids come from the constructor, or per run from ``config["configurable"]`` (``user_id``, and
``session_id`` or the LangGraph ``thread_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired

import anyio.to_thread
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import MessagesState

from ..langchain import inject_into_messages, last_human_text
from ..turn import MemoryBinding, MemorySource, TurnConfig, one_source, persist, prepare_turn


class MemoryState(MessagesState):
    """``MessagesState`` plus the memories recalled for the current turn."""

    memory_context: NotRequired[str | None]


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    return (config or {}).get("configurable") or {}


def _last_answer(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, AIMessage) and not message.tool_calls:
            return str(message.text)
    return ""


class AgentMemoryNodes:
    """Recall / inject / persist steps for LangGraph graphs, backed by agent memory."""

    def __init__(
        self,
        source: MemorySource | None = None,
        *,
        client: MemorySource | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        turn_config: TurnConfig | None = None,
        messages_key: str = "messages",
    ) -> None:
        source = one_source(source, client, "AgentMemoryNodes")
        self.binding = MemoryBinding(source, user_id=user_id, session_id=session_id)
        self.turn_config = turn_config or TurnConfig()
        self.messages_key = messages_key

    def _memory_text(self, state: Mapping[str, Any], config: RunnableConfig | None) -> str | None:
        text = last_human_text(state.get(self.messages_key) or [])
        if not text.strip():
            return None
        session = self.binding.session(_configurable(config), create=True)
        assert session is not None
        return prepare_turn(session, text, self.turn_config).system_message

    def recall(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """Node: ``{"memory_context": <rendered memories or None>}``."""
        return {"memory_context": self._memory_text(state, config)}

    async def arecall(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """Async :meth:`recall` (storage on a worker thread)."""
        return await anyio.to_thread.run_sync(self.recall, state, config)

    def pre_model_hook(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """Pre-model hook: the messages for the model, with memories in the system message."""
        messages = list(state.get(self.messages_key) or [])
        memory = self._memory_text(state, config)
        return {
            "llm_input_messages": inject_into_messages(messages, memory) if memory else messages
        }

    def persist(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """Node: store this turn's human message and final answer; returns no state update."""
        messages = state.get(self.messages_key) or []
        question, answer = last_human_text(messages), _last_answer(messages)
        session = self.binding.session(_configurable(config), create=True)
        assert session is not None
        persist(session, question, answer, self.turn_config)
        return {}

    async def apersist(self, state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """Async :meth:`persist` (storage on a worker thread)."""
        return await anyio.to_thread.run_sync(self.persist, state, config)
