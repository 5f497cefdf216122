"""LangChain messages ⇄ memory blocks (one role-tagged message block per message)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.messages import ChatMessage as LangChainChatMessage

from .._models import ChatMessage, MemoryBlock, MessageRole

METADATA_KEY = "langchain_message"
"""The block metadata key holding the exact serialised LangChain message."""

_ROLES = {
    "human": MessageRole.USER,
    "user": MessageRole.USER,
    "ai": MessageRole.ASSISTANT,
    "assistant": MessageRole.ASSISTANT,
    "system": MessageRole.SYSTEM,
    "developer": MessageRole.SYSTEM,
    "tool": MessageRole.TOOL,
    "function": MessageRole.TOOL,
}


def role_of(message: BaseMessage) -> MessageRole:
    """The block role of a LangChain message (human→user, ai→assistant, ...)."""
    kind = message.role if isinstance(message, LangChainChatMessage) else message.type
    kind = kind.lower().removesuffix("messagechunk").removesuffix("chunk")
    return _ROLES.get(kind, MessageRole.USER)


def to_block_message(message: BaseMessage) -> tuple[ChatMessage, dict[str, Any]]:
    """The role-tagged block message (text is searchable) and the metadata to store."""
    name = message.name if isinstance(message.name, str) and message.name else None
    block = ChatMessage(role=role_of(message), content=str(message.text), name=name)
    return block, {METADATA_KEY: message_to_dict(message)}


def from_block(block: MemoryBlock) -> list[BaseMessage]:
    """The LangChain message(s) a block holds: exact when the block was written from one.

    Other message blocks are converted by role (an exchange becomes a human and an AI
    message); facts hold no messages.
    """
    stored = (block.metadata or {}).get(METADATA_KEY)
    if isinstance(stored, dict):
        return messages_from_dict([stored])
    message = block.message
    if message is None:
        return []
    if message.role is None:
        out: list[BaseMessage] = []
        if message.user_content:
            out.append(HumanMessage(content=message.user_content, id=block.block_id))
        if message.assistant_content:
            out.append(AIMessage(content=message.assistant_content, id=block.block_id))
        return out
    content = message.content or ""
    if message.role is MessageRole.USER:
        return [HumanMessage(content=content, name=message.name, id=block.block_id)]
    if message.role is MessageRole.ASSISTANT:
        return [AIMessage(content=content, name=message.name, id=block.block_id)]
    if message.role is MessageRole.SYSTEM:
        return [SystemMessage(content=content, name=message.name, id=block.block_id)]
    return [
        ToolMessage(
            content=content, name=message.name, tool_call_id=block.block_id, id=block.block_id
        )
    ]


def from_blocks(blocks: Sequence[MemoryBlock]) -> list[BaseMessage]:
    """The messages of ``blocks``, in order."""
    return [message for block in blocks for message in from_block(block)]


__all__ = ["METADATA_KEY", "from_block", "from_blocks", "role_of", "to_block_message"]
