"""How CrewAI memory records map onto memory blocks, and the checks of their fields."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

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
    _DIM,
    _ID,
    _MAX_DEPTH,
    _PRIVATE,
    _SCOPE,
    _VECTOR,
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


def _encode_vector(vector: npt.NDArray[np.float32]) -> str:
    """A vector as compact text for block metadata (base64 of little-endian float32)."""
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")


def _decode_vector(value: object) -> npt.NDArray[np.float32] | None:
    """The vector :func:`_encode_vector` wrote, or None when ``value`` is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if not data or len(data) % 4:
        return None
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    return vector if np.isfinite(vector).all() else None


def _check_embedding(value: object, what: str) -> npt.NDArray[np.float32] | None:
    """A record's embedding (CrewAI's vector for its content): None, or finite numbers."""
    if value is None or (isinstance(value, Sequence) and len(value) == 0):
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None or array.ndim != 1:
        raise ValidationError(f"{what} must be a flat list of numbers, got {type(value).__name__}")
    if not np.isfinite(array).all():
        raise ValidationError(f"{what} holds NaN or infinity; embed the record again")
    return array.astype(np.float32)


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
    dim: int | None = None  # length of the crew's embedding kept with it (None: none)

    @property
    def scope(self) -> str:
        return self.annotations[_SCOPE]

    @property
    def identity(self) -> tuple[str, str, bool, str | None]:
        """What makes two records the same memory: scope, content, privacy (and, for a
        private record, its source)."""
        return self.identity_of(self.annotations, self.fact, self.metadata)

    @staticmethod
    def identity_of(
        annotations: Mapping[str, str], fact: str | None, metadata: Mapping[str, Any] | None
    ) -> tuple[str, str, bool, str | None]:
        """The :attr:`identity` of a stored block, from its annotations, text and metadata."""
        own = (metadata or {}).get(META_KEY)
        fields: Mapping[str, Any] = own if isinstance(own, Mapping) else {}
        private = fields.get("private") is True
        source = fields.get("source") if private else None
        return (
            annotations.get(_SCOPE, "/"),
            (fact or "").strip(),
            private,
            source if isinstance(source, str) else None,
        )


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
    embedding = _check_embedding(record.embedding, f"{what}.embedding")
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
    if embedding is not None:
        metadata[META_KEY]["embedding"] = _encode_vector(embedding)
        notes.update({_VECTOR: "true", _DIM: str(embedding.shape[0])})
    return _RecordRow(
        record_id=record_id,
        fact=fact,
        agent_id=_agent_of(scope),
        created_at=created,
        annotations=check_annotations(notes, f"{what} annotations"),
        metadata=check_metadata(metadata, f"{what}.metadata") or {},
        dim=None if embedding is None else int(embedding.shape[0]),
    )
