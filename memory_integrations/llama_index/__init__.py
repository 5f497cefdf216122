"""LlamaIndex adapters: memory, memory block, chat stores and retriever on the memory engine.

* :class:`AgentMemory`: a ``BaseMemory`` for ``FunctionAgent`` / ``AgentWorkflow`` and
  chat engines: recent chat plus the memories relevant to the input.
* :class:`AgentMemoryBlock`: a ``BaseMemoryBlock[str]`` for ``Memory(memory_blocks=[...])``.
* :class:`AgentMemoryChatStore`: an ``AsyncDBChatStore``, ``Memory``'s short-term history in
  the memory file; :class:`AgentMemoryBaseChatStore`: the same data as a ``BaseChatStore``.
* :class:`AgentMemoryRetriever`: a ``BaseRetriever`` for RAG over agent memory.

Needs the ``llama-index`` extra: ``pip install "memory-integrations[llama-index]"``.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "memory_integrations.llama_index needs LlamaIndex (llama-index-core), which is not "
        'installed. Install the extra: pip install "memory-integrations[llama-index]"'
    ) from exc

from ._block import AgentMemoryBlock
from ._chat_store import AgentMemoryBaseChatStore, AgentMemoryChatStore
from ._memory import AgentMemory
from ._retriever import AgentMemoryRetriever, block_to_node

__all__ = [
    "AgentMemory",
    "AgentMemoryBaseChatStore",
    "AgentMemoryBlock",
    "AgentMemoryChatStore",
    "AgentMemoryRetriever",
    "block_to_node",
]
