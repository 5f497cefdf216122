"""LangChain adapters: chat history, retriever, memory tools, and the memory turn.

* :class:`AgentMemoryChatMessageHistory`: a ``BaseChatMessageHistory`` (legacy API; new
  LangGraph agents should prefer ``memory_integrations.langgraph.AgentMemorySaver``);
* :class:`AgentMemoryRetriever`: a ``BaseRetriever`` over memory search;
* :func:`create_memory_tools`: save / search / forget tools for tool-calling agents;
* :func:`with_agent_memory` and :class:`AgentMemoryMiddleware`: the search → inject →
  persist turn around any runnable, or inside ``langchain.agents.create_agent``.

Needs the ``langchain`` extra: ``pip install "memory-integrations[langchain]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import langchain_core.retrievers  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "memory_integrations.langchain needs langchain-core, which is not installed. "
        'Install the extra: pip install "memory-integrations[langchain]"'
    ) from exc

from ..turn import MemoryBinding, TurnConfig
from ._history import AgentMemoryChatMessageHistory
from ._messages import from_block, to_block_message
from ._retriever import AgentMemoryRetriever, block_document
from ._runnable import (
    AgentMemoryRunnable,
    inject_into_messages,
    last_human_text,
    merge_system_message,
    with_agent_memory,
)
from ._tools import create_memory_tools, format_memories

if TYPE_CHECKING:
    from ._middleware import AgentMemoryMiddleware


def __getattr__(name: str) -> Any:
    # The middleware needs the ``langchain`` package (agents), imported on first use.
    if name == "AgentMemoryMiddleware":
        try:
            from ._middleware import AgentMemoryMiddleware
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                "AgentMemoryMiddleware needs the langchain package (langchain.agents). "
                'Install the extra: pip install "memory-integrations[langchain]"'
            ) from exc
        return AgentMemoryMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AgentMemoryChatMessageHistory",
    "AgentMemoryMiddleware",
    "AgentMemoryRetriever",
    "AgentMemoryRunnable",
    "MemoryBinding",
    "TurnConfig",
    "block_document",
    "create_memory_tools",
    "format_memories",
    "from_block",
    "inject_into_messages",
    "last_human_text",
    "merge_system_message",
    "to_block_message",
    "with_agent_memory",
]
