"""One boundary validation for every entry point: the Python API, both HTTP APIs and import.

Every check raises :class:`~memory_integrations.errors.ValidationError` naming the argument,
what was wrong and how to fix it, before anything is written. The rules:

* **Text** (facts, message content, names, queries, annotation values, metadata) is any
  Unicode that UTF-8 can encode: a lone surrogate (``"\\ud800"``) and NUL are refused.
* **Ids** (users, sessions, blocks, agents, prompts) travel in URL paths and are shown to
  people, so besides the text rules they must not be blank, ``.`` or ``..``, contain
  ``/ ? # %``, control characters, invisible format characters (bidirectional overrides
  such as U+202E, zero-width characters) or line/paragraph separators, or exceed 256
  characters.
* **Integers** are whole numbers (``True`` is not 1) within what storage holds: 64-bit, and
  tighter where a bound makes sense (TTL up to 100 years, retention up to 100 years of days).
* **Datetimes** are aware datetimes or ISO-8601 strings (naive ones are taken as UTC) whose
  UTC value lies within years 1-9999, so they always convert back.
* **Containers** are of the documented kind: lists of facts or messages (not a bare string,
  a dict or a set), dicts of str to str for annotations, JSON objects for metadata.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import ValidationError as PydanticValidationError

from ._models import ChatMessage, FilterOptions
from .errors import AgentMemoryError, ValidationError

T = TypeVar("T")

ANNOTATION_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ID_LENGTH = 256
MAX_TEXT_CHARS = 1_000_000
MAX_ANNOTATIONS = 64
MAX_ANNOTATION_VALUE = 1024
MAX_ANNOTATION_KEY = 128
MAX_ITEMS_PER_CALL = 1000
MAX_RELEVANT_K = 1000
MAX_INT64 = 2**63 - 1
MAX_TTL_SECONDS = 100 * 365 * 86_400
MAX_RETENTION_DAYS = 100 * 365
MAX_JSON_DEPTH = 64
_FORBIDDEN_ID_CHARS = "/?#%"
# Control, format (bidi overrides, zero-width), surrogate, line and paragraph separators.
_FORBIDDEN_ID_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_encodable(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not valid UTF-8 text (lone surrogate {value[exc.start]!r} at position "
            f"{exc.start}); decode your input with errors='replace' first"
        ) from None
    if "\x00" in value:
        raise ValidationError(f"{what} contains a NUL character; remove it")


def id_char_allowed(char: str) -> bool:
    """Whether ``char`` may appear in an id (besides the URL characters ``/ ? # %``)."""
    return unicodedata.category(char) not in _FORBIDDEN_ID_CATEGORIES


def check_id(value: object, what: str, *, allow_percent: bool = False) -> str:
    """A user/session/block/agent id that may travel in a URL path and be shown to people."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {_type_name(value)}")
    if not value.strip():
        raise ValidationError(f"{what} must not be blank; pass a non-empty id")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            f"{what} is {len(value)} characters long; the maximum is {MAX_ID_LENGTH}"
        )
    _check_encodable(value, what)
    if value in (".", ".."):
        raise ValidationError(f"{what} must not be '.' or '..'; choose another id")
    forbidden = _FORBIDDEN_ID_CHARS.replace("%", "") if allow_percent else _FORBIDDEN_ID_CHARS
    bad = sorted({c for c in value if c in forbidden})
    if bad:
        raise ValidationError(
            f"{what} {value!r} contains {' '.join(bad)}; ids must not contain "
            f"{' '.join(forbidden)} (they travel in URL paths): remove or replace them"
        )
    for position, char in enumerate(value):
        if not id_char_allowed(char):
            raise ValidationError(
                f"{what} {value!r} contains the invisible or control character "
                f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')}) at position "
                f"{position}; ids are printable text: remove it"
            )
    return value


def check_optional_id(value: object, what: str) -> str | None:
    return None if value is None else check_id(value, what)


def check_id_list(values: object, what: str, *, allow_percent: bool = False) -> list[str]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (list, tuple)):
        raise ValidationError(f"{what} must be a list of ids, got {_type_name(values)}")
    if not values:
        raise ValidationError(f"{what} must not be empty; omit it to mean no restriction")
    if len(values) > 10_000:
        raise ValidationError(f"{what} has {len(values)} ids; the maximum is 10000")
    return [check_id(v, f"each of {what}", allow_percent=allow_percent) for v in values]


def check_text(value: object, what: str, *, allow_empty: bool = False) -> str:
    """Any UTF-8-encodable text up to ``MAX_TEXT_CHARS`` (blank only with ``allow_empty``)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {_type_name(value)}")
    if not allow_empty and not value.strip():
        raise ValidationError(f"{what} must not be blank")
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationError(
            f"{what} has {len(value):,} characters; the maximum is {MAX_TEXT_CHARS:,}: "
            "split it into several blocks"
        )
    _check_encodable(value, what)
    return value


def check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be True or False, got {value!r}")
    return value


def check_int(value: object, what: str, low: int, high: int) -> int:
    """A whole number in ``[low, high]``; ``bool`` is refused, integral floats are accepted."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValidationError(f"{what} must be between {low} and {high}, got {value}")
    return value


def check_limit(value: object, what: str, low: int, high: int) -> int:
    return check_int(value, what, low, high)


def check_offset(value: object) -> int:
    return check_int(value, "offset", 0, MAX_INT64)


def check_ttl(value: object, what: str) -> int | None:
    """A TTL in whole seconds; 0 means never expire; None means inherit."""
    if value is None:
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValidationError(
            f"{what} must be a whole number of seconds (0 = never expire), got {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(
            f"{what} must be a whole number of seconds (0 = never expire), got {value!r}"
        )
    if value < 0:
        raise ValidationError(f"{what} must be 0 (never expire) or a positive number of seconds")
    if value > MAX_TTL_SECONDS:
        raise ValidationError(f"{what} of {value}s is over 100 years; use 0 for no expiry")
    return int(value)


def check_days(value: object, what: str) -> int | None:
    """Retention in whole days, ``None`` to keep forever."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{what} must be a whole number of days >= 0, or None")
    if value > MAX_RETENTION_DAYS:
        raise ValidationError(
            f"{what} of {value} days is over 100 years; use None to keep blocks forever"
        )
    return value


def check_threshold(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"threshold must be a number between -1 and 1, got {value!r}")
    if not -1.0 <= value <= 1.0:
        raise ValidationError(f"threshold is a cosine similarity between -1 and 1, got {value}")
    return float(value)


def check_order_by(value: object) -> str:
    if value not in ("ingested_at", "created_at"):
        raise ValidationError(f"order_by must be 'ingested_at' or 'created_at', got {value!r}")
    return str(value)


def check_datetime(value: object, what: str) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO-8601 string (naive = UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        _check_encodable(value, what)
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{what} {value!r} is not an ISO-8601 timestamp, e.g. 2025-01-15T10:30:00Z"
            ) from None
    if not isinstance(value, datetime):
        raise ValidationError(
            f"{what} must be a datetime or an ISO-8601 string, got {_type_name(value)}"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        offset = value.utcoffset() or timedelta(0)
        utc = (value.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise ValidationError(
            f"{what} {value.isoformat()} lies outside years 1-9999 in UTC; pass a time that "
            "converts to UTC within that range"
        )
    return utc


def _json_depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests no deeper than ``limit`` (iteratively: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth >= limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def check_json(value: object, what: str) -> str:
    """``value`` as compact JSON text; refuses NaN, non-str keys, deep nesting, bad text."""
    if not _json_depth(value, MAX_JSON_DEPTH):
        raise ValidationError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels; flatten it")
    try:
        encoded = json.dumps(
            value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{what} must be JSON-serialisable (str keys; str, number, bool, None, list, dict "
            f"values; no NaN or infinity): {exc}"
        ) from None
    check_text(encoded, what, allow_empty=True)
    return encoded


def check_metadata(value: object, what: str = "metadata") -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a JSON object (dict), got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{what} keys must be strings, got {key!r}")
    check_json(value, what)
    return dict(value)


def check_annotations(value: object, what: str = "annotations") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a dict of str to str, got {_type_name(value)}")
    if len(value) > MAX_ANNOTATIONS:
        raise ValidationError(f"{what} has {len(value)} keys; the maximum is {MAX_ANNOTATIONS}")
    out: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str) or len(key) > MAX_ANNOTATION_KEY:
            raise ValidationError(
                f"annotation keys are strings of at most {MAX_ANNOTATION_KEY} characters, got "
                f"{key!r:.80}"
            )
        if not ANNOTATION_KEY.match(key):
            raise ValidationError(
                f"annotation key {key!r} is invalid: keys must match ^[A-Za-z_][A-Za-z0-9_]*$ "
                "(letters, digits and underscores; no hyphens, dots or spaces), e.g. 'topic'"
            )
        if not isinstance(val, str):
            raise ValidationError(
                f"annotation {key!r} has a {_type_name(val)} value; annotation values are "
                "strings: convert it with str()"
            )
        check_text(val, f"annotation {key!r}", allow_empty=True)
        if len(val) > MAX_ANNOTATION_VALUE:
            raise ValidationError(
                f"annotation {key!r} is {len(val)} characters; the maximum is "
                f"{MAX_ANNOTATION_VALUE}"
            )
        out[key] = val
    return out


def check_string_filters(value: object, what: str) -> dict[str, str]:
    """A non-empty dict of identifier keys to string values (e.g. a user metadata filter)."""
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(f"{what} must be a non-empty dict of str to str")
    out: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not ANNOTATION_KEY.match(key):
            raise ValidationError(f"{what} key {key!r} must be a bare identifier like 'tier'")
        out[key] = check_text(val, f"{what} value of {key!r}", allow_empty=True)
    return out


def check_list(value: object, what: str, elements: str) -> list[Any]:
    """A list or tuple (not a string, dict, set or iterator) of at most MAX_ITEMS_PER_CALL."""
    if not isinstance(value, (list, tuple)) or isinstance(value, ChatMessage):
        wrap = (
            ": wrap a single one as [item]"
            if isinstance(value, (str, bytes, Mapping, ChatMessage))
            else ""
        )
        raise ValidationError(f"{what} must be a list of {elements}, got {_type_name(value)}{wrap}")
    if len(value) > MAX_ITEMS_PER_CALL:
        raise ValidationError(
            f"{len(value)} items in one call; the maximum is {MAX_ITEMS_PER_CALL}: split the call"
        )
    return list(value)


@contextmanager
def typed_validation(what: str) -> Iterator[None]:
    """Turn pydantic's validation error (raised by the frameworks' pydantic-based classes
    our adapters derive from) into this package's ``ValidationError``, naming ``what``."""
    try:
        yield
    except ValidationError:
        raise
    except PydanticValidationError as exc:
        wrapped = _wrapped_error(exc)
        if wrapped is not None:  # one of our checks, run inside a pydantic validator
            raise wrapped from None
        raise ValidationError(f"{what}: {_first_error(exc)}") from None


def _wrapped_error(exc: PydanticValidationError) -> AgentMemoryError | None:
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, AgentMemoryError):
            return cause
    return None


def parse_filters(filters: FilterOptions | Mapping[str, Any] | None) -> FilterOptions:
    if filters is None:
        return FilterOptions()
    if isinstance(filters, FilterOptions):
        return filters
    if not isinstance(filters, Mapping):
        raise ValidationError(
            f"filters must be a dict or FilterOptions, got {type(filters).__name__}"
        )
    try:
        return FilterOptions.model_validate(dict(filters))
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid search filters: {_first_error(exc)}") from None


def to_message(value: object) -> ChatMessage:
    """A ``ChatMessage`` from itself or a dict, with its text checked."""
    if isinstance(value, Mapping):
        try:
            value = ChatMessage.model_validate(dict(value))
        except ValidationError:
            raise
        except Exception as exc:  # pydantic's own error
            raise ValidationError(f"invalid message: {_first_error(exc)}") from None
    if not isinstance(value, ChatMessage):
        raise ValidationError(
            f"each message must be a ChatMessage or a dict, got {_type_name(value)}"
        )
    for part, text in (
        ("user_content", value.user_content),
        ("assistant_content", value.assistant_content),
        ("content", value.content),
    ):
        if text is not None:
            check_text(text, f"message {part}", allow_empty=True)
    if value.name is not None:
        check_text(value.name, "message name")
    return value


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "message"
            return f"{where}: {first.get('msg', exc)}"
        except Exception:  # not pydantic's shape: fall back to the plain text
            pass
    return str(exc).splitlines()[0]


def per_item(
    value: Any,
    count: int,
    name: str,
    check: Callable[[Any, str], T],
    single: type | tuple[type, ...],
) -> list[T]:
    """One value shared by every item, or a list with one entry per item, each checked."""
    if value is None or isinstance(value, single):
        shared = check(value, name)
        return [shared] * count
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValidationError(
                f"{name} has {len(value)} entries for {count} items: pass one value for all "
                "items, or a list with exactly one entry (or None) per item"
            )
        return [check(entry, f"{name}[{n}]") for n, entry in enumerate(value)]
    raise ValidationError(
        f"{name} must be one value or a list with one per item, got {_type_name(value)}"
    )


@dataclass(frozen=True)
class AddRequest:
    """A validated ``add_memory`` call: one entry per block in every per-item list."""

    kind: Literal["fact", "message"]
    facts: list[str]
    messages: list[ChatMessage]
    annotations: list[dict[str, str]]
    metadata: list[dict[str, Any] | None]
    created_at: list[datetime | None]
    ttl: int | None
    agent_id: str | None
    async_processing: bool

    @property
    def count(self) -> int:
        return len(self.facts) if self.kind == "fact" else len(self.messages)

    @property
    def texts(self) -> list[str]:
        """The searchable text of each block."""
        return self.facts if self.kind == "fact" else [m.text for m in self.messages]

    def without_oversized(self, limit: int) -> tuple[AddRequest, list[dict[str, Any]]]:
        """This request without the blocks over ``limit`` estimated tokens, and why each
        was dropped (the Couchbase ``rejected_details``)."""
        rejected: list[dict[str, Any]] = []
        keep: list[int] = []
        for position, text in enumerate(self.texts):
            tokens = estimate_tokens(text)
            if tokens <= limit:
                keep.append(position)
                continue
            rejected.append(
                {
                    "index": position,
                    "reason": f"block of about {tokens} tokens exceeds the per-block limit of "
                    f"{limit} tokens (MEMORY_INTEGRATIONS_PER_BLOCK_TOKEN_LIMIT); split it",
                    "estimated_tokens": tokens,
                    "limit": limit,
                }
            )
        if not rejected:
            return self, []
        return self.only(keep), rejected

    def only(self, keep: list[int], facts: list[str] | None = None) -> AddRequest:
        """The request for the blocks at ``keep`` (with these fact texts, when given)."""
        return replace(
            self,
            facts=(facts or [self.facts[i] for i in keep]) if self.kind == "fact" else [],
            messages=[self.messages[i] for i in keep] if self.kind == "message" else [],
            annotations=[self.annotations[i] for i in keep],
            metadata=[self.metadata[i] for i in keep],
            created_at=[self.created_at[i] for i in keep],
        )


def normalise_add(
    messages: object = None,
    facts: object = None,
    annotations: object = None,
    async_processing: object = True,
    memory_block_ttl: object = None,
    created_at: object = None,
    metadata: object = None,
    agent_id: object = None,
) -> AddRequest:
    """Validate the arguments of ``add_memory`` once, for every backend."""
    given = [
        name
        for name, value in (("messages", messages), ("facts", facts))
        if value is not None and not (isinstance(value, (list, tuple)) and not value)
    ]
    if len(given) == 2:
        raise ValidationError(
            "pass messages or facts, not both: submit them in separate add_memory() calls"
        )
    if not given:
        raise ValidationError("add_memory needs a non-empty messages= or facts= list")
    kind: Literal["fact", "message"] = "fact" if given[0] == "facts" else "message"
    raw = check_list(
        facts if kind == "fact" else messages,
        given[0],
        "strings" if kind == "fact" else "messages (ChatMessage or dict)",
    )
    fact_list = [check_text(f, "each fact").strip() for f in raw] if kind == "fact" else []
    message_list = [to_message(m) for m in raw] if kind == "message" else []
    count = len(raw)
    return AddRequest(
        kind=kind,
        facts=fact_list,
        messages=message_list,
        annotations=per_item(annotations, count, "annotations", check_annotations, Mapping),
        metadata=per_item(metadata, count, "metadata", check_metadata, Mapping),
        created_at=per_item(created_at, count, "created_at", check_datetime, (str, datetime)),
        ttl=check_ttl(memory_block_ttl, "memory_block_ttl"),
        agent_id=check_optional_id(agent_id, "agent_id"),
        async_processing=check_bool(async_processing, "async_processing"),
    )


def estimate_tokens(text: str) -> int:
    """A model-independent token estimate: about four characters per token."""
    return (len(text) + 3) // 4


def check_optional_text(value: object, what: str) -> str | None:
    return None if value is None else check_text(value, what)
