"""Offline LLM helpers: real LlamaIndex mock LLM classes that record what they are sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms import MockFunctionCallingLLM


def render(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(f"{m.role.value}: {m.content}" for m in messages)


class PromptRecorder:
    """A ``MockFunctionCallingLLM`` response generator that keeps every prompt.

    It answers ``"noted: <last message>"``; with ``tool_call=(name, kwargs)`` its first
    answer calls that tool and the next one repeats the tool's output.
    """

    def __init__(self, tool_call: tuple[str, dict[str, Any]] | None = None) -> None:
        self.prompts: list[list[ChatMessage]] = []
        self.tool_call = tool_call

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.prompts.append(list(messages))
        tool_results = [m for m in messages if m.role == MessageRole.TOOL]
        if self.tool_call is not None and not tool_results:
            name, arguments = self.tool_call
            return ChatMessage(
                role=MessageRole.ASSISTANT,
                blocks=[
                    ToolCallBlock(tool_call_id="call-1", tool_name=name, tool_kwargs=arguments)
                ],
            )
        if tool_results:
            return ChatMessage(
                role=MessageRole.ASSISTANT, content=f"tool said: {tool_results[-1].content}"
            )
        return ChatMessage(role=MessageRole.ASSISTANT, content=f"noted: {messages[-1].content}")

    def llm(self) -> MockFunctionCallingLLM:
        return MockFunctionCallingLLM(response_generator=self)

    @property
    def last(self) -> list[ChatMessage]:
        assert self.prompts, "the LLM was never called"
        return self.prompts[-1]

    def last_text(self) -> str:
        return render(self.last)

    def system_text(self, index: int = -1) -> str:
        return "\n".join(
            m.content or "" for m in self.prompts[index] if m.role == MessageRole.SYSTEM
        )
