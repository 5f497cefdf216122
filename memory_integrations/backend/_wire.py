"""The Couchbase Agent Memory JSON wire format, both ways (server rendering, client parsing).

Everything the Couchbase SDK requires is there (ISO-8601 strings for times, both
``user_content`` and ``assistant_content`` on messages). Our own fields ride along as
extra keys that the SDK ignores: ``metadata``, ``agent_id``, ``updated_at``,
``expires_at``, ``similarity`` on blocks, and ``role`` / ``content`` / ``name`` on
role-tagged messages (which also fill ``user_content`` or ``assistant_content`` so the
SDK's "at least one content" check passes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .._models import (
    ChatMessage,
    FilterOptions,
    MemoryBlock,
    MessageRole,
    Session,
    User,
)


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` (the SDK types every time as ``str``)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def message_to_wire(message: ChatMessage) -> dict[str, Any]:
    if message.role is None:
        return {
            "user_content": message.user_content,
            "assistant_content": message.assistant_content,
        }
    text = message.content or ""
    shown = text.strip() or f"[{message.role.value}]"
    side = "user_content" if message.role is MessageRole.USER else "assistant_content"
    wire: dict[str, Any] = {"user_content": "", "assistant_content": ""}
    wire[side] = shown
    wire.update(role=message.role.value, content=text, name=message.name)
    return wire


def message_from_wire(data: Mapping[str, Any]) -> ChatMessage:
    role = data.get("role")
    if role:
        return ChatMessage(
            role=MessageRole(str(role).lower()),
            content=data.get("content") or "",
            name=data.get("name"),
        )
    return ChatMessage(
        user_content=data.get("user_content") or "",
        assistant_content=data.get("assistant_content") or "",
    )


def block_to_wire(block: MemoryBlock) -> dict[str, Any]:
    return {
        "block_id": block.block_id,
        "user_id": block.user_id,
        "session_id": block.session_id,
        "message": None if block.message is None else message_to_wire(block.message),
        "fact": block.fact,
        "ingested_at": iso(block.ingested_at),
        "created_at": iso(block.created_at),
        "last_queued_at": iso(block.last_queued_at),
        "fail_count": block.fail_count,
        "annotations": block.annotations,
        "summary": block.summary,
        "contexts": block.contexts,
        "status": block.status.value,
        "rel_score": block.rel_score,
        "prompt_id": block.prompt_id,
        "prompt_vid": block.prompt_vid,
        "metadata": block.metadata,
        "agent_id": block.agent_id,
        "updated_at": iso(block.updated_at),
        "expires_at": iso(block.expires_at),
        "similarity": block.similarity,
    }


def block_from_wire(data: Mapping[str, Any]) -> MemoryBlock:
    fields = {
        key: data.get(key)
        for key in (
            "block_id",
            "user_id",
            "session_id",
            "fact",
            "metadata",
            "agent_id",
            "created_at",
            "ingested_at",
            "updated_at",
            "last_queued_at",
            "expires_at",
            "rel_score",
            "similarity",
            "summary",
            "contexts",
            "prompt_id",
            "prompt_vid",
        )
        if data.get(key) is not None
    }
    fields["annotations"] = data.get("annotations") or {}
    fields["fail_count"] = data.get("fail_count") or 0
    fields["status"] = data.get("status") or "ready"
    raw = data.get("message")
    if raw:
        fields["message"] = message_from_wire(raw)
    return MemoryBlock.model_validate(fields)


def user_to_wire(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "sessions": user.sessions,
        "metadata": user.metadata,
        "created_at": iso(user.created_at),
    }


def user_from_wire(data: Mapping[str, Any]) -> User:
    return User.model_validate({k: v for k, v in data.items() if v is not None})


def session_to_wire(session: Session) -> dict[str, Any]:
    return {
        "user_id": session.user_id,
        "session_id": session.session_id,
        "start_time": iso(session.start_time),
        "end_time": iso(session.end_time),
        "annotations": session.annotations,
        "metadata": session.metadata,
        "blocks_ttl": session.blocks_ttl,
    }


def session_from_wire(data: Mapping[str, Any]) -> Session:
    return Session.model_validate({k: v for k, v in data.items() if v is not None})


def filters_to_wire(filters: FilterOptions | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Search filters as JSON: only what the caller set (a plain dict passes verbatim)."""
    if filters is None:
        return None
    if isinstance(filters, FilterOptions):
        return filters.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if isinstance(value, datetime):
            value = iso(value)
        elif isinstance(value, MessageRole):
            value = value.value
        out[key] = value
    return out
