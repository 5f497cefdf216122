"""Checks of the store's arguments, before any work: namespaces, keys, values, TTLs, pages."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    Op,
    PutOp,
    SearchOp,
    TTLConfig,
)

from ..errors import ConfigurationError, ValidationError


def _dumps(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"store values must be JSON-serializable mappings: {exc}; convert the value "
            "(e.g. datetimes to ISO strings) before put()"
        ) from None
    _check_store_text(text, "the value")
    return text


class InvalidStoreNamespaceError(ValidationError, InvalidNamespaceError):
    """A namespace that is not a tuple of non-empty string labels without periods."""


_MAX_LABEL = 1024
_MAX_TTL_MINUTES = 100 * 365 * 24 * 60.0
_MAX_PAGE = 100_000


def _check_store_text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not valid UTF-8 text (lone surrogate at position {exc.start})"
        ) from None
    if "\x00" in value:
        raise ValidationError(f"{what} contains a NUL character; remove it")


def _check_namespace(
    namespace: object, what: str = "namespace", *, allow_empty: bool = False, root: bool = False
) -> tuple[str, ...]:
    """A namespace as a tuple of labels: not a bare string, no empty labels or periods;
    with ``root``, a namespace a put may write (not under the reserved "langgraph")."""
    if isinstance(namespace, (str, bytes)) or not isinstance(namespace, (tuple, list)):
        raise InvalidStoreNamespaceError(
            f"{what} must be a tuple of strings such as ('memories', user_id), got "
            f"{type(namespace).__name__} {namespace!r:.60}"
        )
    if not namespace and not allow_empty:
        raise InvalidStoreNamespaceError(f"{what} cannot be empty")
    for label in namespace:
        if not isinstance(label, str) or not label:
            raise InvalidStoreNamespaceError(
                f"{what} labels must be non-empty strings, got {label!r:.60}"
            )
        if "." in label:
            raise InvalidStoreNamespaceError(
                f"{what} label {label!r:.60} contains a period; periods separate labels"
            )
        if len(label) > _MAX_LABEL:
            raise InvalidStoreNamespaceError(
                f"{what} label is {len(label)} characters; the maximum is {_MAX_LABEL}"
            )
        try:
            _check_store_text(label, f"{what} label")
        except ValidationError as exc:
            raise InvalidStoreNamespaceError(str(exc)) from None
    if root and namespace and namespace[0] == "langgraph":
        raise InvalidStoreNamespaceError(f'{what} cannot start with "langgraph" (reserved)')
    return tuple(namespace)


def _check_key(key: object) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)  # LangGraph stringifies keys
    if not isinstance(key, str):
        raise ValidationError(f"store keys are strings, got {type(key).__name__} {key!r:.60}")
    if len(key) > _MAX_LABEL:
        raise ValidationError(f"the key is {len(key)} characters; the maximum is {_MAX_LABEL}")
    _check_store_text(key, "the key")
    return key


def _check_namespace_paths(kwargs: Mapping[str, Any]) -> None:
    for name in ("prefix", "suffix"):
        if kwargs.get(name) is not None:
            _check_namespace(kwargs[name], name, allow_empty=True)


STORE_TTL_UNITS = (
    "the store counts TTLs in minutes, as every LangGraph store does (AgentMemorySaver's "
    "ttl is in seconds)"
)


def _check_ttl_minutes(ttl: object) -> None:
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl):
        raise ValidationError(
            f"ttl is a number of minutes (or None), got {ttl!r}; {STORE_TTL_UNITS}"
        )
    if not 0 < ttl <= _MAX_TTL_MINUTES:
        raise ValidationError(
            f"ttl must be more than 0 and at most 100 years in minutes, got {ttl!r}; use "
            f"None for items that never expire ({STORE_TTL_UNITS})"
        )


def _check_ttl_config(ttl: object) -> TTLConfig | None:
    """LangGraph's ``TTLConfig``, its numbers checked (minutes; bools are not numbers)."""
    if not ttl:
        return None
    if not isinstance(ttl, Mapping):
        raise ConfigurationError(
            f"AgentMemoryStore's ttl is a TTLConfig dict such as "
            f'{{"default_ttl": 60, "sweep_interval_minutes": 5}}, got {ttl!r}; '
            f"{STORE_TTL_UNITS}"
        )
    unknown = set(ttl) - {
        "default_ttl",
        "refresh_on_read",
        "omit_expired",
        "sweep_interval_minutes",
    }
    if unknown:
        raise ConfigurationError(f"unknown TTLConfig key(s) {sorted(unknown)}")
    _check_ttl_minutes(ttl.get("default_ttl"))
    _check_ttl_minutes(ttl.get("sweep_interval_minutes"))
    for flag in ("refresh_on_read", "omit_expired"):
        value = ttl.get(flag)
        if value is not None and not isinstance(value, bool):
            raise ConfigurationError(f"{flag} must be True or False, got {value!r}")
    return cast(TTLConfig, dict(ttl))


def _check_page(value: object, what: str, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= _MAX_PAGE:
        raise ValidationError(f"{what} must be a whole number from {low} to {_MAX_PAGE}")


def _check_op(op: Op) -> None:
    """Refuse an operation whose arguments the store cannot honour, before any work."""
    if isinstance(op, PutOp):
        _check_namespace(op.namespace)
        _check_key(op.key)
        if op.value is not None and not isinstance(op.value, Mapping):
            raise ValidationError(
                f"put() values are mappings (dicts), got {type(op.value).__name__}"
            )
        if (
            op.index is not None
            and op.index is not False
            and (isinstance(op.index, str) or not all(isinstance(f, str) for f in op.index))
        ):
            raise ValidationError("index must be False, None or a list of field paths")
        _check_ttl_minutes(op.ttl)
    elif isinstance(op, GetOp):
        _check_namespace(op.namespace)
        _check_key(op.key)
    elif isinstance(op, SearchOp):
        _check_namespace(op.namespace_prefix, "namespace_prefix", allow_empty=True)
        if op.query is not None:
            if not isinstance(op.query, str):
                raise ValidationError(f"query must be a string, got {type(op.query).__name__}")
            _check_store_text(op.query, "the query")
        if op.filter is not None:
            if not isinstance(op.filter, Mapping):
                raise ValidationError(f"filter must be a dict, got {type(op.filter).__name__}")
            _dumps(op.filter)  # JSON text UTF-8 can encode, like the values it compares
        _check_page(op.limit, "limit")
        _check_page(op.offset, "offset")
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            _check_namespace(condition.path, "match condition path", allow_empty=True)
        _check_page(op.limit, "limit")
        _check_page(op.offset, "offset")
        if op.max_depth is not None:
            _check_page(op.max_depth, "max_depth", 1)
    else:
        raise ValidationError(f"Unknown operation type: {type(op).__name__}")
