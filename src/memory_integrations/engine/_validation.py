"""Input checks shared by every entry point. Each error says what was wrong and the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import ValidationError

ANNOTATION_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ID_LENGTH = 256
MAX_TEXT_CHARS = 1_000_000
MAX_ANNOTATIONS = 64
MAX_ANNOTATION_VALUE = 1024
MAX_ITEMS_PER_CALL = 1000
MAX_RELEVANT_K = 1000
_FORBIDDEN_ID_CHARS = "/?#%"


def check_id(value: object, what: str, *, allow_percent: bool = False) -> str:
    """Validate a user/session/block id that may travel in a URL path."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{what} must not be blank; pass a non-empty id")
    if value in (".", ".."):
        raise ValidationError(f"{what} must not be '.' or '..'; choose another id")
    forbidden = _FORBIDDEN_ID_CHARS.replace("%", "") if allow_percent else _FORBIDDEN_ID_CHARS
    bad = sorted({c for c in value if c in forbidden})
    if bad:
        raise ValidationError(
            f"{what} {value!r} contains {' '.join(bad)}; ids must not contain "
            f"{' '.join(forbidden)} (they travel in URL paths): remove or replace them"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"{what} {value!r} contains control characters; remove them")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            f"{what} is {len(value)} characters long; the maximum is {MAX_ID_LENGTH}"
        )
    return value


def check_id_list(values: object, what: str, *, allow_percent: bool = False) -> list[str]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise ValidationError(f"{what} must be a list of ids, got {type(values).__name__}")
    if not values:
        raise ValidationError(f"{what} must not be empty; omit it to mean no restriction")
    return [check_id(v, f"each of {what}", allow_percent=allow_percent) for v in values]


def check_text(value: object, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(f"{what} must not be blank")
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationError(
            f"{what} has {len(value):,} characters; the maximum is {MAX_TEXT_CHARS:,}: "
            "split it into several blocks"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not valid UTF-8 text (lone surrogate at position {exc.start}); "
            "decode your input with errors='replace' first"
        ) from None
    if "\x00" in value:
        raise ValidationError(f"{what} contains a NUL character; remove it")
    return value


def check_annotations(value: object, what: str = "annotations") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a dict of str to str, got {type(value).__name__}")
    if len(value) > MAX_ANNOTATIONS:
        raise ValidationError(f"{what} has {len(value)} keys; the maximum is {MAX_ANNOTATIONS}")
    out: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not ANNOTATION_KEY.match(key):
            raise ValidationError(
                f"annotation key {key!r} is invalid: keys must match ^[A-Za-z_][A-Za-z0-9_]*$ "
                "(letters, digits and underscores; no hyphens, dots or spaces), e.g. 'topic'"
            )
        if not isinstance(val, str):
            raise ValidationError(
                f"annotation {key!r} has a {type(val).__name__} value; annotation values are "
                f"strings: pass str({val!r})"
            )
        check_text(val, f"annotation {key!r}", allow_empty=True)
        if len(val) > MAX_ANNOTATION_VALUE:
            raise ValidationError(
                f"annotation {key!r} is {len(val)} characters; the maximum is "
                f"{MAX_ANNOTATION_VALUE}"
            )
        out[key] = val
    return out


def check_metadata(value: object, what: str = "metadata") -> dict[str, Any] | None:
    import json

    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a JSON object (dict), got {type(value).__name__}")
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be JSON-serialisable: {exc}") from None
    check_text(encoded, what, allow_empty=True)
    return dict(value)


def check_limit(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValidationError(f"{what} must be between {low} and {high}, got {value}")
    return value


def check_offset(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"offset must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ValidationError(f"offset must be 0 or more, got {value}")
    return value


def check_ttl(value: object, what: str) -> int | None:
    """A TTL in whole seconds; 0 means never expire; None means inherit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValidationError(
                f"{what} must be a whole number of seconds (0 = never expire), got {value!r}"
            )
    if value < 0:
        raise ValidationError(f"{what} must be 0 (never expire) or a positive number of seconds")
    if value > 100 * 365 * 86400:
        raise ValidationError(f"{what} of {value}s is over 100 years; use 0 for no expiry")
    return value


def check_order_by(value: object) -> str:
    if value not in ("ingested_at", "created_at"):
        raise ValidationError(f"order_by must be 'ingested_at' or 'created_at', got {value!r}")
    return str(value)


def check_datetime(value: object, what: str) -> datetime | None:
    """Accept an aware datetime or an ISO-8601 string; naive times are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{what} {value!r} is not an ISO-8601 timestamp, e.g. 2025-01-15T10:30:00Z"
            ) from None
    if not isinstance(value, datetime):
        raise ValidationError(
            f"{what} must be a datetime or an ISO-8601 string, got {type(value).__name__}"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
