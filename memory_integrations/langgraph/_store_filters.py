"""Filters with the semantics of ``InMemoryStore`` (without its exceptions), in Python."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from langgraph.store.base import (
    MatchCondition,
)

from ..errors import ValidationError

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def _leaf_text(value: Any) -> str:
    """The string and number leaves of a JSON value, space-joined (keyword-only indexing)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, bool) or node is None:
            return
        elif isinstance(node, int | float):
            parts.append(str(node))
        elif isinstance(node, Mapping):
            for child in node.values():
                walk(child)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)

    walk(value)
    return " ".join(parts)


def _lookup(value: Mapping[str, Any], key: str) -> Any:
    """``value[key]``; a dotted key not present as such walks nested objects."""
    if key in value:
        return value[key]
    if "." in key:
        node: Any = value
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node
    return None


def _orderable(left: Any, right: Any) -> tuple[Any, Any] | None:
    try:
        return float(left), float(right)
    except (TypeError, ValueError):
        if isinstance(left, str) and isinstance(right, str):
            return left, right
        return None


def _apply_operator(value: Any, name: str, argument: Any) -> bool:
    if name == "$eq":
        return bool(value == argument)
    if name == "$ne":
        return bool(value != argument)
    compare = _ORDERINGS.get(name)
    if compare is None:
        raise ValidationError(
            f"unsupported filter operator {name!r}; use $eq, $ne, $gt, $gte, $lt or $lte"
        )
    pair = _orderable(value, argument)
    return pair is not None and compare(*pair)


def _compare(value: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        if any(str(k).startswith("$") for k in expected):
            return all(_apply_operator(value, op, arg) for op, arg in expected.items())
        if not isinstance(value, Mapping):
            return False
        return all(_compare(value.get(k), v) for k, v in expected.items())
    if isinstance(expected, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(expected)
            and all(_compare(a, b) for a, b in zip(value, expected, strict=True))
        )
    return bool(value == expected)


def _matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    if not filter:
        return True
    return all(_compare(_lookup(value, key), expected) for key, expected in filter.items())


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValidationError(f"unsupported match type {condition.match_type!r}")
    return all(want == "*" or have == want for have, want in pairs)
