"""How CrewAI memory records map onto memory blocks, and the checks of their fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from ..validation import (
    MAX_ANNOTATION_VALUE,
    check_annotations,
    check_datetime,
    check_list,
    check_metadata,
    check_optional_text,
    check_text,
    typed_validation,
)

if TYPE_CHECKING:
    from crewai.memory.types import MemoryRecord
from ._scopes import (
    _ID,
    _MAX_DEPTH,
    _PRIVATE,
    _SCOPE,
    META_KEY,
    _agent_of,
    _levels,
    normalize_scope,
)


def _utc(moment: datetime) -> datetime:
    """CrewAI uses naive UTC datetimes; the engine wants aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return _utc(moment).replace(tzinfo=None)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _naive(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return None


# --- the boundary: every public call checks its arguments here, before anything is opened ---

_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def _check_scope(value: object, what: str) -> str:
    """A scope path, normalised (``None`` is the root)."""
    if value is None:
        return "/"
    scope = normalize_scope(check_text(value, what, allow_empty=True))
    depth = len(_levels(scope)) - 1
    if depth > _MAX_DEPTH:
        raise ValidationError(
            f"{what} is {depth} levels deep; AgentMemoryStorage supports at most "
            f"{_MAX_DEPTH}: use a shallower scope"
        )
    if len(scope) > MAX_ANNOTATION_VALUE:
        raise ValidationError(
            f"{what} is {len(scope)} characters long; AgentMemoryStorage keeps scopes of at "
            f"most {MAX_ANNOTATION_VALUE} characters: use shorter scope names"
        )
    return scope


def _check_record_id(value: object, what: str) -> str:
    record_id = check_text(value, what)
    if len(record_id) > MAX_ANNOTATION_VALUE:
        raise ValidationError(
            f"{what} is {len(record_id)} characters long; the maximum is {MAX_ANNOTATION_VALUE}"
        )
    return record_id


def _check_record_ids(value: object, what: str) -> list[str]:
    """A list of record ids (not a bare string), each once, in order."""
    ids = check_list(value, what, "record ids")
    return list(dict.fromkeys(_check_record_id(v, f"{what}[{n}]") for n, v in enumerate(ids)))


def _check_categories(value: object, what: str) -> list[str] | None:
    if value is None:
        return None
    items = check_list(value, what, "category names")
    return [check_text(c, f"{what}[{n}]", allow_empty=True) for n, c in enumerate(items)]


def _check_min_score(value: object) -> float:
    """Any real number but NaN; scores lie in [0, 1], so it is clipped to [-1, 2]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValidationError(
            f"min_score must be a number (scores lie between 0 and 1), got {value!r}"
        )
    return float(max(-1.0, min(2.0, value)))


def _check_vector(value: object) -> list[float]:
    """CrewAI's query vector: a flat sequence of finite numbers."""
    shape_ok = isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes)
    try:
        array = np.asarray(value, dtype=np.float64) if shape_ok else None
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None or array.ndim != 1:
        raise ValidationError(
            "query_embedding must be a flat list of numbers (the vector storage.embedder "
            f"made for the query), got {type(value).__name__}"
        )
    if not np.isfinite(array).all():
        raise ValidationError("query_embedding holds NaN or infinity; embed the query again")
    vector: list[float] = array.tolist()
    return vector


def _check_record(value: object, what: str) -> MemoryRecord:
    """``value`` as a CrewAI ``MemoryRecord`` whose fields pass CrewAI's own model."""
    from crewai.memory.types import MemoryRecord

    if not isinstance(value, MemoryRecord):
        raise ValidationError(
            f"{what} must be a CrewAI MemoryRecord, got {type(value).__name__}: build it as "
            "MemoryRecord(content=...)"
        )
    with typed_validation(what):  # catches a record built with model_construct or mutated
        return MemoryRecord.model_validate(dict(value))


@dataclass(frozen=True)
class _RecordRow:
    """One record as an engine fact block, every part checked."""

    record_id: str
    fact: str  # blank: nothing to store
    agent_id: str | None
    created_at: datetime  # aware UTC
    annotations: dict[str, str]
    metadata: dict[str, Any]


def _row(record: MemoryRecord, what: str) -> _RecordRow:
    """Check every field of ``record`` by the engine's rules; nothing is written here."""
    record_id = _check_record_id(record.id, f"{what}.id")
    fact = check_text(record.content, f"{what}.content", allow_empty=True)
    scope = _check_scope(record.scope, f"{what}.scope")
    created = check_datetime(record.created_at, f"{what}.created_at")
    accessed = check_datetime(record.last_accessed, f"{what}.last_accessed")
    assert created is not None and accessed is not None  # CrewAI's model requires both
    categories = _check_categories(record.categories, f"{what}.categories") or []
    source = check_optional_text(record.source, f"{what}.source")
    own = check_metadata(
        {k: v for k, v in record.metadata.items() if k != META_KEY}, f"{what}.metadata"
    )
    metadata = dict(own or {})
    metadata[META_KEY] = {
        "categories": categories,
        "importance": record.importance,
        "source": source,
        "private": record.private,
        "created_at": created.replace(tzinfo=None).isoformat(),
        "last_accessed": accessed.replace(tzinfo=None).isoformat(),
    }
    notes = {f"crewai_s{i}": level for i, level in enumerate(_levels(scope))}
    notes.update({_ID: record_id, _SCOPE: scope, _PRIVATE: "true" if record.private else "false"})
    return _RecordRow(
        record_id=record_id,
        fact=fact,
        agent_id=_agent_of(scope),
        created_at=created,
        annotations=check_annotations(notes, f"{what} annotations"),
        metadata=check_metadata(metadata, f"{what}.metadata") or {},
    )
