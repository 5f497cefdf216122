"""The memory turn as middleware for ``langchain.agents.create_agent``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware.types import (
    AgentMiddleware,
    AgentState,
    ModelCallResult,
    ModelRequest,
    ModelResponse,
    OmitFromSchema,
)
from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from ..turn import MemoryBinding, MemorySource, TurnConfig, persist, prepare_turn
from ._runnable import last_human_text, merge_system_message


class AgentMemoryState(AgentState[Any]):
    """Agent state plus the private memory context of the current run."""

    agent_memory: NotRequired[Annotated[dict[str, Any] | None, OmitFromSchema(True, True)]]


def _configurable(runtime: Runtime[Any] | None) -> dict[str, Any]:
    """Ids for this run: ``config["configurable"]``, completed from ``runtime.context``."""
    values: dict[str, Any] = {}
    try:
        from langgraph.config import get_config

        values.update(get_config().get("configurable") or {})
    except RuntimeError:  # called outside a graph run
        pass
    context = getattr(runtime, "context", None)
    for key in ("user_id", "session_id"):
        if values.get(key):
            continue
        value = context.get(key) if isinstance(context, Mapping) else getattr(context, key, None)
        if value:
            values[key] = value
    return values


class AgentMemoryMiddleware(AgentMiddleware[AgentMemoryState, Any, Any]):
    """Agent middleware: recall before the run, inject into every model call, persist after.

    ``before_agent`` searches memory for the run's last human message; ``wrap_model_call``
    merges the recalled memories into the system message of each model call (they are not
    added to the conversation state, so checkpoints stay clean); ``after_agent`` stores the
    exchange (that input and the final answer). Ids not fixed here are read from
    ``config["configurable"]`` (``user_id``, ``session_id`` or ``thread_id``) or from the
    ``context`` passed to the agent.
    """

    state_schema = AgentMemoryState

    def __init__(
        self,
        source: MemorySource,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        turn_config: TurnConfig | None = None,
    ) -> None:
        super().__init__()
        self.binding = MemoryBinding(source, user_id=user_id, session_id=session_id)
        self.turn_config = turn_config or TurnConfig()
        self.tools = []

    # --- one implementation, called from the sync and async hooks ---------------------

    def _recall(self, state: AgentMemoryState, ids: Mapping[str, Any]) -> dict[str, Any]:
        text = last_human_text(state["messages"])
        if not text.strip():
            return {"agent_memory": None}
        session = self.binding.session(ids, create=True)
        assert session is not None
        prompt = prepare_turn(session, text, self.turn_config)
        return {
            "agent_memory": {
                "input": text,
                "system": prompt.system_message,
                "recalled": [block.block_id for block in prompt.recalled],
            }
        }

    def _persist(self, state: AgentMemoryState, ids: Mapping[str, Any]) -> dict[str, Any] | None:
        context = state.get("agent_memory")
        if not context:
            return None
        answer = ""
        for message in reversed(state["messages"]):
            if isinstance(message, AIMessage):
                answer = str(message.text)
                break
        session = self.binding.session(ids, create=True)
        assert session is not None
        persist(session, str(context["input"]), answer, self.turn_config)
        return {"agent_memory": None}

    @staticmethod
    def _with_memory(request: ModelRequest[Any]) -> ModelRequest[Any]:
        context = request.state.get("agent_memory")
        system = context.get("system") if isinstance(context, Mapping) else None
        if not system:
            return request
        return request.override(
            system_message=merge_system_message(request.system_message, str(system))
        )

    # --- hooks --------------------------------------------------------------------------

    def before_agent(self, state: AgentMemoryState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Search memory for the run's input and keep the rendered system message."""
        return self._recall(state, _configurable(runtime))

    async def abefore_agent(self, state: AgentMemoryState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Async :meth:`before_agent` (storage on a worker thread)."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self._recall, state, _configurable(runtime))

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelCallResult[Any]:
        """Call the model with the recalled memories merged into the system message."""
        return handler(self._with_memory(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelCallResult[Any]:
        """Async :meth:`wrap_model_call`."""
        return await handler(self._with_memory(request))

    def after_agent(self, state: AgentMemoryState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Store the exchange: the run's input and the final answer."""
        return self._persist(state, _configurable(runtime))

    async def aafter_agent(
        self, state: AgentMemoryState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async :meth:`after_agent` (storage on a worker thread)."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self._persist, state, _configurable(runtime))


__all__ = ["AgentMemoryMiddleware", "AgentMemoryState"]
