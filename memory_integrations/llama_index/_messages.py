"""LlamaIndex ``ChatMessage`` ⇄ memory blocks.

Each LlamaIndex message is one role-tagged message block. The block's ``content`` is the
message's text (what is embedded and searched); its metadata keeps the exact serialised
message under ``metadata["llama_index"]["message"]`` so it reads back unchanged (tool
calls, images, ``additional_kwargs``), plus a content ``fingerprint`` used to recognise the
same message written twice. Chat-history membership is the annotation ``chat_status``:
``active`` (in the short-term history) or ``archived`` (flushed out of it, still
searchable).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from llama_index.core.base.llms.types import ChatMessage as LIChatMessage
from llama_index.core.base.llms.types import MessageRole as LIRole
from llama_index.core.base.llms.types import ToolCallBlock
from pydantic_core import PydanticSerializationError

from .._models import ChatMessage, MemoryBlock, MessageRole
from ..errors import ValidationError

META_KEY = "llama_index"
STATUS_KEY = "chat_status"
ACTIVE = "active"
ARCHIVED = "archived"

_TO_ENGINE: dict[str, MessageRole] = {
    LIRole.SYSTEM.value: MessageRole.SYSTEM,
    LIRole.DEVELOPER.value: MessageRole.SYSTEM,
    LIRole.USER.value: MessageRole.USER,
    LIRole.ASSISTANT.value: MessageRole.ASSISTANT,
    LIRole.CHATBOT.value: MessageRole.ASSISTANT,
    LIRole.MODEL.value: MessageRole.ASSISTANT,
    LIRole.TOOL.value: MessageRole.TOOL,
    LIRole.FUNCTION.value: MessageRole.TOOL,
}
_FROM_ENGINE: dict[MessageRole, LIRole] = {
    MessageRole.SYSTEM: LIRole.SYSTEM,
    MessageRole.USER: LIRole.USER,
    MessageRole.ASSISTANT: LIRole.ASSISTANT,
    MessageRole.TOOL: LIRole.TOOL,
}


def dump(message: LIChatMessage) -> dict[str, Any]:
    """The JSON form LlamaIndex's own SQL chat store keeps."""
    try:
        return message.model_dump(mode="json")
    except (PydanticSerializationError, ValueError, TypeError) as exc:
        raise ValidationError(
            f"a {message.role.value} message cannot be stored: it does not serialise to JSON "
            f"({exc}); keep additional_kwargs to JSON values with valid UTF-8 text"
        ) from None


def fingerprint(data: dict[str, Any]) -> str:
    """A content hash of a dumped message (ignoring the ``session_id`` Memory stamps on)."""
    extra = {k: v for k, v in (data.get("additional_kwargs") or {}).items() if k != "session_id"}
    canonical = json.dumps(
        {"role": data.get("role"), "blocks": data.get("blocks"), "extra": extra},
        sort_keys=True,
        default=str,
    )
    return "li-fp-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def searchable_text(message: LIChatMessage) -> str:
    """The text to embed: the message text, or a description of its tool calls."""
    text = message.content or ""
    if text:
        return text
    calls = []
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            args = block.tool_kwargs
            rendered = args if isinstance(args, str) else json.dumps(args, default=str)
            calls.append(f"called tool {block.tool_name} with {rendered}")
    return "; ".join(calls)


def to_engine(message: LIChatMessage) -> tuple[ChatMessage, dict[str, Any]]:
    """The engine message and block metadata for one LlamaIndex message."""
    data = dump(message)
    role = _TO_ENGINE.get(str(message.role.value), MessageRole.USER)
    engine_message = ChatMessage(role=role, content=searchable_text(message))
    return engine_message, {META_KEY: {"message": data, "fingerprint": fingerprint(data)}}


def without_session_stamp(message: LIChatMessage) -> LIChatMessage:
    """A copy without the ``session_id`` that ``BaseMemoryBlock.aput`` adds to messages."""
    if "session_id" not in message.additional_kwargs:
        return message
    extra = {k: v for k, v in message.additional_kwargs.items() if k != "session_id"}
    return message.model_copy(update={"additional_kwargs": extra})


_TOOL_ROLES = frozenset({LIRole.TOOL.value, LIRole.FUNCTION.value})


def is_tool_plumbing(block: MemoryBlock) -> bool:
    """Whether a block is an agent's tool traffic (a tool result, or a call without text).

    Such blocks stay in the chat history, so a tool result still follows its call, but are
    never recalled as memories: "called tool search_memory with {}" is not something the
    user said, and a tool's output (often the recalled memories themselves) would echo back.
    """
    message = block.message
    if message is not None and message.role == MessageRole.TOOL:
        return True
    meta = (block.metadata or {}).get(META_KEY)
    stored = meta.get("message") if isinstance(meta, dict) else None
    if not isinstance(stored, dict):
        return False
    if stored.get("role") in _TOOL_ROLES:
        return True
    parts = stored.get("blocks") or []
    has_text = any(
        isinstance(part, dict) and part.get("block_type") == "text" and str(part.get("text") or "")
        for part in parts
    )
    calls = any(isinstance(part, dict) and part.get("block_type") == "tool_call" for part in parts)
    extra = stored.get("additional_kwargs")
    calls = calls or (isinstance(extra, dict) and bool(extra.get("tool_calls")))
    return calls and not has_text


def block_fingerprint(block: MemoryBlock) -> str | None:
    meta = (block.metadata or {}).get(META_KEY)
    if isinstance(meta, dict) and isinstance(meta.get("fingerprint"), str):
        return str(meta["fingerprint"])
    return None


def from_block(block: MemoryBlock) -> list[LIChatMessage]:
    """The LlamaIndex messages a block holds (an exchange block gives two; a fact none)."""
    meta = (block.metadata or {}).get(META_KEY)
    if isinstance(meta, dict) and isinstance(meta.get("message"), dict):
        return [LIChatMessage.model_validate(meta["message"])]
    message = block.message
    if message is None:
        return []
    if message.role is not None:
        return [LIChatMessage(role=_FROM_ENGINE[message.role], content=message.content or "")]
    out = []
    if message.user_content:
        out.append(LIChatMessage(role=LIRole.USER, content=message.user_content))
    if message.assistant_content:
        out.append(LIChatMessage(role=LIRole.ASSISTANT, content=message.assistant_content))
    return out


def message_text(message: LIChatMessage | str | None) -> str:
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    return message.content or ""


def latest_user_text(messages: list[LIChatMessage] | None) -> str:
    """The text of the newest user message with text (the default search query)."""
    for message in reversed(messages or []):
        if message.role == LIRole.USER and message.content:
            return message.content
    return ""
