"""The turn with LangChain models: calling a runnable, and the ``with_agent_memory`` wrapper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.messages import (
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.prompt_values import ChatPromptValue, PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from ..client import SessionResource
from ..turn import (
    MemoryBinding,
    MemorySource,
    TurnConfig,
    TurnPrompt,
    answer_text,
    persist,
    prepare_turn,
)


def turn_messages(system: str | None, user_input: str) -> list[BaseMessage]:
    """The messages a turn sends: the memory system message (if any), then the input."""
    messages: list[BaseMessage] = [] if system is None else [SystemMessage(content=system)]
    messages.append(HumanMessage(content=user_input))
    return messages


def merge_system_message(existing: SystemMessage | None, memory: str) -> SystemMessage:
    """Append the memory text to an existing system message (or make one).

    Many providers accept a single system message only, so memory joins the existing one.
    """
    if existing is None:
        return SystemMessage(content=memory)
    content = existing.content
    if isinstance(content, str):
        merged: Any = f"{content}\n\n{memory}" if content else memory
    else:
        merged = [*content, {"type": "text", "text": memory}]
    return existing.model_copy(update={"content": merged})


def inject_into_messages(messages: Sequence[BaseMessage], memory: str) -> list[BaseMessage]:
    """Merge ``memory`` into the leading system message of ``messages`` (or prepend one)."""
    out = list(messages)
    if out and isinstance(out[0], SystemMessage):
        out[0] = merge_system_message(out[0], memory)
    else:
        out.insert(0, SystemMessage(content=memory))
    return out


def last_human_text(messages: Sequence[BaseMessage]) -> str:
    """The text of the last human message ('' when there is none)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return str(message.text)
    return ""


class AgentMemoryRunnable(Runnable[Any, Any]):
    """A runnable with a memory turn around it: recall → inject → call → persist.

    Built by :func:`with_agent_memory`. Accepts what the wrapped runnable accepts: a str,
    a message, a list of messages, a chat prompt value, or a dict (the user text is read
    from ``input_key`` and the rendered memories are passed under ``memory_key``).
    """

    def __init__(
        self,
        bound: Runnable[Any, Any],
        binding: MemoryBinding,
        turn_config: TurnConfig,
        *,
        input_key: str = "input",
        memory_key: str = "memories",
    ) -> None:
        self.bound = bound
        self.binding = binding
        self.turn_config = turn_config
        self.input_key = input_key
        self.memory_key = memory_key
        self.name = f"AgentMemory[{bound.get_name()}]"

    def __repr__(self) -> str:
        return f"AgentMemoryRunnable(bound={self.bound!r}, binding={self.binding!r})"

    # --- input handling -----------------------------------------------------------------

    def user_text(self, input: Any) -> str:
        """The user's text in ``input`` (what memory is searched for and stored)."""
        if isinstance(input, str):
            return input
        if isinstance(input, BaseMessage):
            return str(input.text)
        if isinstance(input, PromptValue):
            return last_human_text(input.to_messages())
        if isinstance(input, Mapping):
            if self.input_key not in input:
                raise KeyError(
                    f"the input dict has no {self.input_key!r} key; pass input_key= to "
                    "with_agent_memory() to name the key that holds the user's text"
                )
            return self.user_text(input[self.input_key])
        if isinstance(input, Sequence):
            return last_human_text(convert_to_messages(input))
        raise TypeError(
            "with_agent_memory() accepts a str, a message, a list of messages, a prompt "
            f"value or a dict, got {type(input).__name__}"
        )

    def inject(self, input: Any, system: str | None) -> Any:
        """``input`` with the rendered memories added (unchanged when there are none)."""
        if isinstance(input, Mapping):
            return {**input, self.memory_key: system or ""}
        if system is None:
            return input
        if isinstance(input, str):
            return turn_messages(system, input)
        if isinstance(input, BaseMessage):
            return [SystemMessage(content=system), input]
        if isinstance(input, PromptValue):
            return ChatPromptValue(messages=inject_into_messages(input.to_messages(), system))
        return inject_into_messages(convert_to_messages(input), system)

    # --- the turn -----------------------------------------------------------------------

    def _prepare(
        self, input: Any, config: RunnableConfig
    ) -> tuple[SessionResource, str, TurnPrompt]:
        session = self.binding.session(config.get("configurable"), create=True)
        assert session is not None
        text = self.user_text(input)
        return session, text, prepare_turn(session, text, self.turn_config)

    def _finish(self, session: SessionResource, text: str, output: Any) -> None:
        persist(session, text, answer_text(output), self.turn_config)

    def _invoke(
        self,
        input: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        session, text, prompt = self._prepare(input, config)
        output = self.bound.invoke(self.inject(input, prompt.system_message), config, **kwargs)
        self._finish(session, text, output)
        return output

    async def _ainvoke(
        self,
        input: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        import anyio.to_thread

        session, text, prompt = await anyio.to_thread.run_sync(self._prepare, input, config)
        output = await self.bound.ainvoke(
            self.inject(input, prompt.system_message), config, **kwargs
        )
        await anyio.to_thread.run_sync(self._finish, session, text, output)
        return output

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run one turn with the wrapped runnable."""
        return self._call_with_config(self._invoke, input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async :meth:`invoke` (storage on a worker thread, the model via ``ainvoke``)."""
        return await self._acall_with_config(self._ainvoke, input, config, **kwargs)


def with_agent_memory(
    runnable: Runnable[Any, Any],
    source: MemorySource,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    turn_config: TurnConfig | None = None,
    input_key: str = "input",
    memory_key: str = "memories",
) -> AgentMemoryRunnable:
    """Wrap a chat model or runnable so every call is a memory turn.

    Each call searches the user's memory for the input, adds the recalled memories as a
    system message (or, for dict inputs, under ``memory_key``), calls ``runnable`` and
    stores the exchange. ``source`` is a client or a user/session handle; ids that are not
    fixed are read per call from ``config["configurable"]`` (``user_id``, ``session_id``).
    """
    binding = MemoryBinding(source, user_id=user_id, session_id=session_id)
    return AgentMemoryRunnable(
        runnable,
        binding,
        turn_config or TurnConfig(),
        input_key=input_key,
        memory_key=memory_key,
    )


__all__ = [
    "AgentMemoryRunnable",
    "inject_into_messages",
    "last_human_text",
    "merge_system_message",
    "turn_messages",
    "with_agent_memory",
]
