"""Stored rows as the public models, whatever an older version or a bug wrote in them."""

from __future__ import annotations

import json
import logging
from typing import Any

from .._models import (
    ChatMessage,
    MemoryBlockStatus,
    MessageRole,
)
from ..storage import (
    BlockRow,
)

log = logging.getLogger("memory_integrations.engine")


def loads_stored(value: Any) -> Any:
    """Stored JSON, or ``None`` (with a warning) when a row holds something unreadable."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):
        log.warning("unreadable stored JSON %.80r read as null", value)
        return None


def stored_annotations(value: Any) -> dict[str, str]:
    if value == "{}":
        return {}
    loaded = loads_stored(value)
    if not isinstance(loaded, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}


def stored_message(row: BlockRow) -> ChatMessage:
    """The message of a stored row, shown as well as it can be even if it breaks today's
    rules (e.g. written by an older version)."""
    role: MessageRole | None = None
    if row.role is not None:
        try:
            role = MessageRole(row.role)
        except ValueError:
            role = MessageRole.USER if row.content is not None else None
    fields: dict[str, Any] = {
        "user_content": "" if role else (row.user_content or ""),
        "assistant_content": "" if role else (row.assistant_content or ""),
        "role": role,
        "content": (row.content or "") if role else None,
        "name": row.name if role else None,
    }
    try:
        return ChatMessage(**fields)
    except Exception:
        return ChatMessage.model_construct(**fields)


def stored_metadata(value: Any) -> dict[str, Any] | None:
    loaded = loads_stored(value)
    return loaded if isinstance(loaded, dict) else None


def stored_contexts(value: Any) -> list[str] | None:
    loaded = loads_stored(value)
    return [str(c) for c in loaded] if isinstance(loaded, list) else None


def stored_status(value: Any) -> MemoryBlockStatus:
    try:
        return MemoryBlockStatus(value)
    except ValueError:
        return MemoryBlockStatus.EXTRACTION_FAILED


def message_columns(message: ChatMessage | None) -> dict[str, str | None]:
    """The stored columns of a message (all None for a fact)."""
    exchange = message is not None and message.role is None
    return {
        "user_content": message.user_content if exchange and message else None,
        "assistant_content": message.assistant_content if exchange and message else None,
        "role": None if message is None or message.role is None else message.role.value,
        "content": None if message is None else message.content,
        "name": None if message is None else message.name,
    }
