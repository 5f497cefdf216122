"""A scripted tool-calling chat model that records every prompt it receives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

Step = AIMessage | str | Callable[[list[BaseMessage]], AIMessage | str]


class ScriptedChatModel(BaseChatModel):
    """Replies with the next scripted step (a message, a str, or a function of the prompt).

    When the script runs out it answers ``default``. Every prompt is kept in ``prompts`` and
    the names of bound tools in ``bound_tools``, so tests can assert what reached the model.
    """

    script: list[Any] = Field(default_factory=list)  # Step items (kept as given)
    default: str = "OK."
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[list[str]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-test-model"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        step: Step = self.script.pop(0) if self.script else self.default
        if callable(step):
            step = step(list(messages))
        message = AIMessage(content=step) if isinstance(step, str) else step.model_copy()
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        self.bound_tools.append([tool["function"]["name"] for tool in formatted])
        return self.bind(tools=formatted, **kwargs)

    # --- helpers for assertions ---------------------------------------------------------

    @property
    def last_prompt(self) -> list[BaseMessage]:
        assert self.prompts, "the model was never called"
        return self.prompts[-1]

    @staticmethod
    def system_text(prompt: list[BaseMessage]) -> str:
        """The text of the system messages of a prompt."""
        return "\n".join(m.text for m in prompt if isinstance(m, SystemMessage))

    @staticmethod
    def tool_results(prompt: list[BaseMessage]) -> list[str]:
        return [m.text for m in prompt if isinstance(m, ToolMessage)]


def tool_call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    """An AI message that calls one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])
