"""Checks of the checkpointer's arguments: configs, ids and intervals."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import get_checkpoint_id

from ..errors import ConfigurationError, ValidationError

_MAX_ID = 1024
_MAX_SECONDS = 100 * 365 * 86_400.0


def _check_seconds(value: object, what: str) -> None:
    """A positive, finite number of seconds (at most 100 years), or None."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= _MAX_SECONDS
    ):
        raise ConfigurationError(
            f"{what} must be a positive number of seconds (at most 100 years) or None, "
            f"not {value!r}; the saver counts in seconds, like LangGraph's savers "
            "(AgentMemoryStore's ttl is a TTLConfig in minutes)"
        )


def _check_saver_text(
    value: object, what: str, *, allow_empty: bool = False, default: str | None = None
) -> str:
    """A thread id, namespace, checkpoint or task id: text (an int is taken as its digits)
    that UTF-8 can encode, without NUL, at most 1024 characters."""
    if value is None and default is not None:
        return default
    if (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, uuid.UUID):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(f"{what} must not be blank")
    if len(value) > _MAX_ID or "\x00" in value:
        raise ValidationError(f"{what} must be at most {_MAX_ID} characters, without NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} holds a lone surrogate; pass valid text") from None
    return value


def _scope_of(config: object, *, need_thread: bool = True) -> tuple[str, str, str | None]:
    """(thread_id, checkpoint_ns, checkpoint_id or None) of a config, checked."""
    configurable = config.get("configurable") if isinstance(config, Mapping) else None
    if not isinstance(configurable, Mapping):
        raise ValidationError(
            'a checkpointer config is {"configurable": {"thread_id": ...}}, got '
            f"{type(config).__name__}"
        )
    thread = configurable.get("thread_id")
    if thread is None and need_thread:
        raise ValidationError('the config needs configurable["thread_id"]')
    thread_id = "" if thread is None else _check_saver_text(thread, "thread_id")
    ns = _check_saver_text(
        configurable.get("checkpoint_ns"), "checkpoint_ns", allow_empty=True, default=""
    )
    checkpoint_id = get_checkpoint_id(cast(RunnableConfig, config))
    if checkpoint_id is not None:
        checkpoint_id = _check_saver_text(checkpoint_id, "checkpoint_id")
    return thread_id, ns, checkpoint_id


def _new_generation() -> str:
    return uuid.uuid4().hex


def _parent_config(thread_id: str, ns: str, parent_id: str | None) -> RunnableConfig | None:
    if not parent_id:
        return None
    return {
        "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent_id}
    }
