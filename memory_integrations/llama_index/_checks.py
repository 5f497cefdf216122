"""The boundary checks of the LlamaIndex adapters, built on :mod:`memory_integrations.validation`.

Every public constructor runs inside :func:`typed`, and every serialisable field is one of
the checked types below, so a bad id, number, annotation or path is refused with this
package's ``ValidationError`` (or ``ConfigurationError``) before anything is opened or
written. Per-call arguments (messages, chat keys, statuses, limits, indexes) are checked by
the functions here at the start of each call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from llama_index.core.base.llms.types import ChatMessage as LIChatMessage
from llama_index.core.storage.chat_store.base_db import MessageStatus
from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from ..errors import ValidationError
from ..validation import (
    MAX_INT64,
    check_annotations,
    check_id,
    check_id_list,
    check_int,
    check_text,
    check_threshold,
)

MIN_INT64 = -(2**63)


def _name(info: ValidationInfo) -> str:
    return info.field_name or "value"


def _id(value: str, info: ValidationInfo) -> str:
    return check_id(value, _name(info))


def _optional_id(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else check_id(value, _name(info))


def _optional_text(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else check_text(value, _name(info))


def _text(value: str, info: ValidationInfo) -> str:
    return check_text(value, _name(info))


def _annotations(value: object, info: ValidationInfo) -> dict[str, str]:
    return check_annotations(value, _name(info))


def whole(low: int, high: int = MAX_INT64) -> BeforeValidator:
    """A whole-number field in ``[low, high]`` (``True`` is not 1, ``1.5`` is not 1)."""

    def check(value: object, info: ValidationInfo) -> int:
        return check_int(value, _name(info), low, high)

    return BeforeValidator(check)


Scope = Literal["all", "session"] | list[str]


def check_scope(value: object) -> Scope:
    """``"all"``, ``"session"`` or a non-empty list of session ids."""
    if value == "all":
        return "all"
    if value == "session":
        return "session"
    if isinstance(value, (list, tuple)):
        return check_id_list(value, "scope")
    raise ValidationError(
        f"scope must be 'all', 'session' or a list of session ids, got {value!r:.80}"
    )


Id = Annotated[str, AfterValidator(_id)]
OptionalId = Annotated[str | None, AfterValidator(_optional_id)]
Text = Annotated[str, AfterValidator(_text)]
OptionalText = Annotated[str | None, AfterValidator(_optional_text)]
Annotations = Annotated[dict[str, str], BeforeValidator(_annotations)]
Threshold = Annotated[float | None, BeforeValidator(check_threshold)]


# --- per-call arguments -------------------------------------------------------------------


def check_key(value: object) -> str:
    """A chat store key / memory session id."""
    return check_id(value, "chat key (session_id)")


def check_message(value: object, what: str = "message") -> LIChatMessage:
    if not isinstance(value, LIChatMessage):
        raise ValidationError(
            f"{what} must be a LlamaIndex ChatMessage, got {type(value).__name__}"
        )
    return value


def check_messages(value: object, what: str = "messages") -> list[LIChatMessage]:
    """A list (or tuple) of LlamaIndex ``ChatMessage`` objects, checked as a whole."""
    if not isinstance(value, (list, tuple)):
        wrap = ": wrap a single one as [message]" if isinstance(value, LIChatMessage) else ""
        raise ValidationError(
            f"{what} must be a list of LlamaIndex ChatMessage objects, got "
            f"{type(value).__name__}{wrap}"
        )
    return [check_message(item, f"each of {what}") for item in value]


def check_optional_messages(value: object, what: str = "messages") -> list[LIChatMessage]:
    return [] if value is None else check_messages(value, what)


def check_input(value: object) -> str | LIChatMessage | None:
    """The ``input`` of ``BaseMemory.get``: text, a message, or None."""
    if value is None or isinstance(value, (str, LIChatMessage)):
        return value
    raise ValidationError(
        f"input must be a string, a LlamaIndex ChatMessage or None, got {type(value).__name__}"
    )


def check_status(value: object) -> MessageStatus | None:
    """A ``MessageStatus`` (or its value ``"active"`` / ``"archived"``), or None for all."""
    if value is None:
        return None
    try:
        return MessageStatus(value)
    except (ValueError, TypeError):
        raise ValidationError(
            f"status must be MessageStatus.ACTIVE, MessageStatus.ARCHIVED or None, got "
            f"{value!r:.80}"
        ) from None


def check_optional_count(value: object, what: str) -> int | None:
    """``None`` or a whole number >= 0 (a limit or an offset)."""
    return None if value is None else check_int(value, what, 0, MAX_INT64)


def check_position(value: object, what: str) -> int:
    """Any 64-bit whole number (an index or a count; out-of-range ones select nothing)."""
    return check_int(value, what, MIN_INT64, MAX_INT64)


def check_filters(value: object, what: str = "filters") -> dict[str, Any]:
    """Extra engine search filters: a dict (its entries are checked by the engine)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{what} must be a dict of search filters, got {type(value).__name__}"
        )
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{what} names are strings, got {key!r:.80}")
    return dict(value)


def _filters(value: object, info: ValidationInfo) -> dict[str, Any]:
    return check_filters(value, _name(info))


Filters = Annotated[dict[str, Any], BeforeValidator(_filters)]
