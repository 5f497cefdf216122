"""``AgentMemoryStorage``: CrewAI's ``StorageBackend`` on the memory engine.

How a CrewAI ``MemoryRecord`` is kept (see docs/crewai.md):

* one engine **user** per tenant (``user_id``); records are written to one **session**
  (``session_id``) and read from every session of the user;
* the record is a **fact block** whose text is ``record.content``;
* **annotations** (exact-match, visible to every adapter): ``crewai_id`` (the record id),
  ``crewai_scope`` (its scope path), ``crewai_s0`` … ``crewai_sN`` (the scope's ancestors:
  ``/``, ``/crew``, ``/crew/research`` …, which turn a scope-prefix query into one exact
  annotation filter) and ``crewai_private``;
* **metadata**: the record's own metadata at top level, plus ``_crewai`` holding
  ``categories``, ``importance``, ``source``, ``private``, ``created_at``, ``last_accessed``;
* ``created_at`` is the record's; ``agent_id`` is ``<role>`` when the scope contains
  ``.../agent/<role>`` (where CrewAI files what an agent learnt).

A per-agent view (:meth:`AgentMemoryStorage.for_agent`) stores records private to its agent
and shows that agent's private records as visible, so CrewAI's recall lets them through.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio.to_thread
import numpy as np

from .._models import MemoryBlock
from ..client import AgentMemoryClient, AsyncAgentMemoryClient, SessionResource, UserResource
from ..errors import ConfigurationError, NotFoundError, ValidationError
from ..validation import (
    MAX_INT64,
    MAX_ITEMS_PER_CALL,
    check_datetime,
    check_id,
    check_limit,
    check_metadata,
    check_offset,
    check_optional_text,
    check_text,
)
from ._connection import ClientHandle
from ._embedder import AgentMemoryEmbedder, vector_texts
from ._records import (
    _EARLIEST,
    _check_categories,
    _check_min_score,
    _check_record,
    _check_record_id,
    _check_record_ids,
    _check_scope,
    _check_vector,
    _decode_vector,
    _naive,
    _parse,
    _RecordRow,
    _row,
)
from ._scopes import (
    _DIM,
    _ID,
    _PRIVATE,
    _SCOPE,
    _VECTOR,
    META_KEY,
    _levels,
    _scope_filter,
    normalize_scope,
)

if TYPE_CHECKING:
    from crewai.memory.types import MemoryRecord, ScopeInfo

ScoreScale = Literal["lancedb", "cosine"]

T = TypeVar("T")

_MAX_RELEVANT_K = 1000
_OVERSAMPLE = 4


def _safe_annotation_text(value: Any) -> bool:
    return isinstance(value, str) and value.isprintable() and not any(c in value for c in '"\\')


def score_of(cosine: float, scale: ScoreScale) -> float:
    """Turn a cosine similarity into this storage's score (higher is better)."""
    # float32 cosines of identical unit vectors land a few 1e-8 off 1.0; the square root
    # below would blow that up to ~1e-4, so snap them back to 1.0.
    cos = 1.0 if cosine > 1.0 - 1e-6 else max(-1.0, cosine)
    if scale == "cosine":
        return max(0.0, cos)
    return 1.0 / (1.0 + math.sqrt(max(0.0, 2.0 - 2.0 * cos)))


def min_cosine(min_score: float, scale: ScoreScale) -> float | None:
    """The cosine a block needs for ``score_of(cosine) >= min_score`` (None: any)."""
    if scale == "cosine":
        return min_score if min_score > 0 else None
    if min_score <= 1.0 / 3.0:
        return None
    distance = 1.0 / min_score - 1.0
    return 1.0 - distance * distance / 2.0


class AgentMemoryStorage:
    """CrewAI 1.x ``StorageBackend`` that keeps records in the memory engine.

    ``client`` is an :class:`AgentMemoryClient`, an :class:`AsyncAgentMemoryClient`, or a
    path (the storage then opens, owns and closes its own client). Records live under the
    engine user ``user_id`` (one per tenant) and are written to ``session_id``; reads
    span all the user's sessions but only see CrewAI records.

    When the ``Memory`` embeds with :attr:`embedder` (or any :class:`AgentMemoryEmbedder`),
    ranking uses the engine's hybrid retrieval on the query *text*, recovered from CrewAI's
    query vector. With any other embedder it ranks by the cosine between the query vector
    and the embedding CrewAI computed for each record, which :meth:`save` keeps (a change
    of vector length raises CrewAI's ``EmbeddingDimensionMismatchError``, as LanceDB does).
    Scores map the cosine similarity: with ``score_scale="lancedb"`` (default)
    ``1 / (1 + L2 distance)`` between unit vectors, the scale of CrewAI's default LanceDB
    storage, so CrewAI's thresholds keep their meaning; with ``"cosine"``, the cosine
    clipped to ``[0, 1]``.

    Identical records (same scope, content and privacy) are stored once (see :meth:`save`).
    ``close()`` closes a client the storage opened; the next call opens it again.

    ``private_to`` makes a per-agent view (see :meth:`for_agent`).

    Every public method checks all its arguments first (the rules of
    :mod:`memory_integrations.validation`): a refused call raises a ``ValidationError`` or
    ``ConfigurationError`` and has opened, created and written nothing. ``save`` checks
    every record before it stores any.

    Args:
        client: a client, or where the memory lives (None: the default store).
        user_id: the engine user the records live under (one per tenant).
        session_id: the session new records are written to.
        score_scale: ``"lancedb"`` or ``"cosine"`` (see above).
        embedder: the embedder of the crew's ``Memory`` (default: a local one).
        private_to: an agent role: a view of that agent's private records.

    Example:
        ```python
        from crewai.memory.unified_memory import Memory

        from memory_integrations import AgentMemoryClient
        from memory_integrations.crewai import AgentMemoryStorage

        with AgentMemoryClient("memory.sqlite3") as client:
            storage = AgentMemoryStorage(client, user_id="travel-crew")
            memory = Memory(storage=storage, embedder=storage.embedder)
        ```
    """

    def __init__(
        self,
        client: AgentMemoryClient | AsyncAgentMemoryClient | str | Path | None = None,
        *,
        user_id: str = "crewai",
        session_id: str = "crewai",
        score_scale: ScoreScale = "lancedb",
        embedder: AgentMemoryEmbedder | None = None,
        private_to: str | None = None,
    ) -> None:
        # Every argument is checked before a store is opened (or a file created).
        check_id(user_id, "user_id")
        check_id(session_id, "session_id")
        if score_scale not in ("lancedb", "cosine"):
            raise ConfigurationError(
                f"score_scale must be 'lancedb' or 'cosine', got {score_scale!r}"
            )
        if embedder is not None and not isinstance(embedder, AgentMemoryEmbedder):
            raise ConfigurationError(
                "embedder must be an AgentMemoryEmbedder (or None for the engine's own "
                f"model), got {type(embedder).__name__}"
            )
        check_optional_text(private_to, "private_to")
        self._handle = ClientHandle(client)
        self._owns_client = self._handle.owned
        self.user_id = user_id
        self.session_id = session_id
        self.score_scale: ScoreScale = score_scale
        self._embedder = embedder
        self.private_to = private_to
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        agent = "" if self.private_to is None else f", private_to={self.private_to!r}"
        return (
            f"AgentMemoryStorage(user_id={self.user_id!r}, session_id={self.session_id!r}{agent})"
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> AgentMemoryStorage:
        return self  # a handle on a shared store: copies of a Memory share it

    def for_agent(self, agent: str) -> AgentMemoryStorage:
        """A view of this storage for one agent (same store, client and caches).

        Records saved through the view are private to ``agent`` (``private=True``,
        ``source=agent`` unless set). The view shows the agent's own private records as
        visible (``private=False``), because CrewAI's recall hides private records unless
        asked with their source; others' private records stay private. The view keeps
        working when CrewAI copies an agent, which rebuilds its ``Memory`` from fields.
        """
        check_text(agent, "agent")
        view = copy.copy(self)
        view.private_to = agent
        view._owns_client = False
        return view

    @property
    def client(self) -> AgentMemoryClient:
        """The engine client (one this storage opened is opened again after ``close()``)."""
        return self._handle.client

    @property
    def embedder(self) -> AgentMemoryEmbedder:
        """The CrewAI embedder to pair with this storage (the engine's own model)."""
        with self._lock:
            if self._embedder is None:
                engine_embedder = getattr(self.client.backend, "embedder", None)
                self._embedder = AgentMemoryEmbedder(engine_embedder)
            return self._embedder

    # --- engine handles ----------------------------------------------------------------

    def _get_user(self) -> UserResource:
        client = self.client
        with self._handle.lock:
            if self._handle.user is None:
                self._handle.user = client.get_or_create_user(self.user_id)
            return self._handle.user

    def _session(self, session_id: str) -> SessionResource:
        with self._handle.lock:
            handle = self._handle.sessions.get(session_id)
        if handle is None:
            user = self._get_user()
            if session_id == self.session_id:
                handle = user.get_or_create_session(session_id, annotations={"framework": "crewai"})
            else:
                handle = user.get_session(session_id)
            with self._handle.lock:
                self._handle.sessions[session_id] = handle
        return handle

    def _read(self, call: Callable[[UserResource], T], empty: T) -> T:
        """Run a read on the user; a user that does not exist (yet) has nothing: ``empty``.
        Reads never create the user (only writes do), so a read writes nothing."""

        def run() -> T:
            client = self.client
            with self._handle.lock:
                user = self._handle.user
            if user is None:
                try:
                    user = client.get_user(self.user_id)
                except NotFoundError:
                    return empty
                with self._handle.lock:
                    self._handle.user = user
            return call(user)

        return self._retry_if_reset(run)

    def _retry_if_reset(self, call: Callable[[], T]) -> T:
        """Run ``call``; if the user or a session was deleted under us, re-open and retry."""
        try:
            return call()
        except NotFoundError:
            self._handle.forget()
            return call()

    def _find(
        self,
        scope: str = "/",
        *,
        record_id: str | None = None,
        older_than: datetime | None = None,
        contains: str | None = None,
    ) -> list[MemoryBlock]:
        """Every CrewAI block matching, oldest first (a filter-only engine lookup); the
        arguments are already checked."""
        if older_than is not None and older_than <= _EARLIEST:
            return []  # nothing is older than the first moment
        annotations = _scope_filter(scope)
        if record_id is not None:
            annotations[_ID] = record_id
        filters: dict[str, Any] = {"annotations": annotations, "kind": "fact"}
        filters["order_by"] = "created_at"
        if older_than is not None:
            filters["created_end_time"] = older_than - timedelta(microseconds=1)
        if contains is not None:
            filters["metadata_contains"] = contains
        none: list[MemoryBlock] = []
        return self._read(lambda user: user.search_memory(None, filters).memory_blocks, none)

    # --- record <-> block ---------------------------------------------------------------

    @staticmethod
    def _stored_private(block: MemoryBlock) -> bool:
        own = (block.metadata or {}).get(META_KEY)
        return isinstance(own, dict) and own.get("private") is True

    def _record(self, block: MemoryBlock) -> MemoryRecord:
        """The record a block holds; fields another writer left malformed get defaults."""
        from crewai.memory.types import MemoryRecord

        meta = dict(block.metadata or {})
        own = meta.pop(META_KEY, None)
        fields: dict[str, Any] = own if isinstance(own, dict) else {}
        fallback = _naive(block.created_at or block.ingested_at)
        created = _parse(fields.get("created_at")) or fallback
        private = fields.get("private") is True
        source = fields.get("source") if isinstance(fields.get("source"), str) else None
        if private and self.private_to is not None and source == self.private_to:
            private = False  # the view's own records: visible to its agent's recall
        categories = fields.get("categories")
        importance = fields.get("importance")
        if isinstance(importance, bool) or not isinstance(importance, int | float):
            importance = 0.5
        embedding = _decode_vector(fields.get("embedding"))
        return MemoryRecord(
            id=block.annotations.get(_ID, block.block_id),
            content=block.text,
            scope=block.annotations.get(_SCOPE, "/"),
            categories=[c for c in categories if isinstance(c, str)]
            if isinstance(categories, list)
            else [],
            metadata=meta,
            importance=importance if 0.0 <= importance <= 1.0 else 0.5,
            created_at=created,
            last_accessed=_parse(fields.get("last_accessed")) or created,
            source=source,
            private=private,
            embedding=None if embedding is None else embedding.tolist(),
        )

    @staticmethod
    def _matches(
        record: MemoryRecord,
        categories: Sequence[str] | None,
        metadata_filter: Mapping[str, Any] | None,
    ) -> bool:
        if categories and not any(c in record.categories for c in categories):
            return False
        return not metadata_filter or all(
            record.metadata.get(k) == v for k, v in metadata_filter.items()
        )

    @staticmethod
    def _prefilter(
        categories: Sequence[str] | None, metadata_filter: Mapping[str, Any] | None
    ) -> str | None:
        """A metadata substring every match must contain, to narrow the engine's pool."""
        for value in (metadata_filter or {}).values():
            if _safe_annotation_text(value):
                return json.dumps(value, ensure_ascii=False)
        if categories and len(categories) == 1 and _safe_annotation_text(categories[0]):
            return json.dumps(categories[0], ensure_ascii=False)
        return None

    def _as_stored(self, record: MemoryRecord) -> MemoryRecord:
        """The record as stored: private to the view's agent, if this is a view."""
        if self.private_to is None:
            return record
        return record.model_copy(
            update={"private": True, "source": record.source or self.private_to}
        )

    def _add(self, rows: Sequence[_RecordRow]) -> None:
        """Store checked rows with blank-free facts: one engine add per agent id (all of
        them, in the usual case of one scope), searchable when this returns."""
        groups: dict[str | None, list[_RecordRow]] = {}
        for row in rows:
            groups.setdefault(row.agent_id, []).append(row)

        def add(chunk: Sequence[_RecordRow], agent_id: str | None) -> None:
            self._session(self.session_id).add_memory(
                facts=[row.fact for row in chunk],
                annotations=[row.annotations for row in chunk],
                metadata=[row.metadata for row in chunk],
                created_at=[row.created_at for row in chunk],
                agent_id=agent_id,
                async_processing=False,
            )

        for agent_id, group in groups.items():
            for start in range(0, len(group), MAX_ITEMS_PER_CALL):
                chunk = group[start : start + MAX_ITEMS_PER_CALL]
                self._retry_if_reset(functools.partial(add, chunk, agent_id))

    def _delete_blocks(self, blocks: Iterable[MemoryBlock]) -> int:
        by_session: dict[str, list[str]] = {}
        for block in blocks:
            by_session.setdefault(block.session_id, []).append(block.block_id)
        deleted = 0
        for session_id, ids in by_session.items():
            try:
                self._session(session_id).delete_memory(ids)
            except NotFoundError:  # the session went away meanwhile
                continue
            deleted += len(ids)
        return deleted

    # --- StorageBackend -------------------------------------------------------------------

    def save(self, records: list[MemoryRecord]) -> None:
        """Store each record as a fact block, searchable when this returns.

        Every record is checked before anything is written: one invalid record refuses
        the whole call. Records with blank content are skipped: there is nothing to search
        for. A record identical to one already stored (same scope, same content, same
        privacy) replaces it instead of piling up: the new record (its id, fields and
        embedding) is kept and the old one deleted; within one call the last copy wins.
        The embedding CrewAI computed is kept with the record, and as in CrewAI's LanceDB
        storage, embeddings of another length than the stored ones are refused with
        ``EmbeddingDimensionMismatchError``.
        """
        if not isinstance(records, list | tuple):
            raise ValidationError(
                "records must be a list of CrewAI MemoryRecord objects, got "
                f"{type(records).__name__}: wrap a single record as [record]"
            )
        rows = [
            _row(self._as_stored(_check_record(record, f"records[{n}]")), f"records[{n}]")
            for n, record in enumerate(records)
        ]
        rows = [row for row in rows if row.fact.strip()]
        if not rows:
            return
        self._check_dims([row.dim for row in rows])
        rows = list({row.identity: row for row in rows}.values())  # the last copy wins
        replaced = [block for row in rows for block in self._copies_of(row)]
        self._add(rows)
        self._delete_blocks(replaced)

    def _copies_of(self, row: _RecordRow) -> list[MemoryBlock]:
        """Stored blocks holding the same memory as ``row`` (see :meth:`save`)."""
        filters: dict[str, Any] = {
            "annotations": {_SCOPE: row.scope, _PRIVATE: row.annotations[_PRIVATE]},
            "kind": "fact",
            "content_contains": row.fact.strip(),
        }
        none: list[MemoryBlock] = []
        blocks = self._read(lambda user: user.search_memory(None, filters).memory_blocks, none)
        return [
            block
            for block in blocks
            if _RecordRow.identity_of(block.annotations, block.fact, block.metadata) == row.identity
        ]

    # --- the crew's own vectors -------------------------------------------------------------

    def _stored_dim(self, other_than: int) -> int | None:
        """The length of stored embeddings that are not ``other_than`` long (None: none)."""
        vector = {"annotations": {_VECTOR: "true"}, "kind": "fact"}
        same = {"annotations": {_VECTOR: "true", _DIM: str(other_than)}, "kind": "fact"}
        if self._read(lambda user: user.count_memories(vector), 0) == self._read(
            lambda user: user.count_memories(same), 0
        ):
            return None
        none: list[MemoryBlock] = []
        for block in self._read(lambda user: user.search_memory(None, vector).memory_blocks, none):
            dim = block.annotations.get(_DIM, "")
            if dim.isdigit() and int(dim) != other_than:
                return int(dim)
        return None

    def _check_dims(self, dims: Sequence[int | None]) -> None:
        """Refuse embeddings whose length differs from each other's or the stored ones'."""
        from crewai.memory.storage.backend import EmbeddingDimensionMismatchError

        given = [d for d in dims if d is not None]
        if not given:
            return
        for dim in given[1:]:
            if dim != given[0]:
                raise EmbeddingDimensionMismatchError(given[0], dim)
        stored = self._stored_dim(given[0])
        if stored is not None:
            raise EmbeddingDimensionMismatchError(stored, given[0])

    def _search_by_vector(
        self,
        vector: list[float],
        scope: str,
        wanted: list[str] | None,
        meta_filter: dict[str, Any] | None,
        limit: int,
        min_score: float,
    ) -> list[tuple[MemoryRecord, float]]:
        """Rank by cosine between the query and the embeddings the crew stored with the
        records: the path for a query vector another embedder made."""
        self._check_dims([len(vector)])
        query = np.asarray(vector, dtype=np.float64)
        query_norm = float(np.linalg.norm(query))
        scored: list[tuple[MemoryRecord, float]] = []
        for block in self._find(scope, contains=self._prefilter(wanted, meta_filter)):
            record = self._record(block)
            if record.embedding is None or len(record.embedding) != len(vector):
                continue  # stored without the crew's embedding: not in its vector space
            if not self._matches(record, wanted, meta_filter):
                continue
            stored = np.asarray(record.embedding, dtype=np.float64)
            norms = query_norm * float(np.linalg.norm(stored))
            cosine = float(query @ stored) / norms if norms > 0 else 0.0
            score = score_of(cosine, self.score_scale)
            if score >= min_score:
                scored.append((record, score))
        scored.sort(key=lambda pair: pair[1], reverse=True)
        return scored[:limit]

    def search(
        self,
        query_embedding: list[float],
        scope_prefix: str | None = None,
        categories: list[str] | None = None,
        metadata_filter: dict[str, Any] | None = None,
        limit: int = 10,
        min_score: float = 0.0,
    ) -> list[tuple[MemoryRecord, float]]:
        """Rank records by relevance to the query; ``(record, score)``, best first."""
        vector = _check_vector(query_embedding)
        scope = _check_scope(scope_prefix, "scope_prefix")
        wanted = _check_categories(categories, "categories")
        meta_filter = check_metadata(metadata_filter, "metadata_filter")
        limit = check_limit(limit, "limit", 0, MAX_INT64)
        min_score = _check_min_score(min_score)
        if limit == 0 or len(vector) == 0:
            return []
        if min_score > 1.0:
            return []
        query = vector_texts.get(vector)
        if query is None:  # another embedder's vector: rank by the crew's own vectors
            return self._search_by_vector(vector, scope, wanted, meta_filter, limit, min_score)
        post = bool(wanted) or bool(meta_filter)
        filters: dict[str, Any] = {
            "annotations": _scope_filter(scope),
            "kind": "fact",
            "relevant_k": min(_MAX_RELEVANT_K, limit * _OVERSAMPLE if post else limit),
        }
        threshold = min_cosine(min_score, self.score_scale)
        if threshold is not None:
            filters["threshold"] = max(-1.0, threshold - 1e-6)
        contains = self._prefilter(wanted, meta_filter)
        if contains is not None:
            filters["metadata_contains"] = contains
        none: list[MemoryBlock] = []
        blocks = self._read(lambda user: user.search_memory(query, filters).memory_blocks, none)
        scored: list[tuple[MemoryRecord, float]] = []
        for block in blocks:
            score = score_of(block.similarity or 0.0, self.score_scale)
            if score < min_score:
                continue
            record = self._record(block)
            if self._matches(record, wanted, meta_filter):
                scored.append((record, score))
        scored.sort(key=lambda pair: pair[1], reverse=True)
        return scored[:limit]

    def delete(
        self,
        scope_prefix: str | None = None,
        categories: list[str] | None = None,
        record_ids: list[str] | None = None,
        older_than: datetime | None = None,
        metadata_filter: dict[str, Any] | None = None,
    ) -> int:
        """Delete the records meeting *every* given criterion; returns how many.

        With no criteria it deletes every CrewAI record of the user (never other blocks).
        ``older_than`` is a datetime (naive means UTC, as CrewAI uses) or an ISO-8601 string.
        """
        scope = _check_scope(scope_prefix, "scope_prefix")
        wanted = _check_categories(categories, "categories")
        ids = None if record_ids is None else _check_record_ids(record_ids, "record_ids")
        before = check_datetime(older_than, "older_than")
        meta_filter = check_metadata(metadata_filter, "metadata_filter")
        contains = self._prefilter(wanted, meta_filter)
        if ids is not None:
            blocks = [
                block
                for record_id in ids
                for block in self._find(
                    scope, record_id=record_id, older_than=before, contains=contains
                )
            ]
        else:
            blocks = self._find(scope, older_than=before, contains=contains)
        if wanted or meta_filter:
            blocks = [b for b in blocks if self._matches(self._record(b), wanted, meta_filter)]
        return self._delete_blocks(blocks)

    def update(self, record: MemoryRecord) -> None:
        """Replace the record with the same id (storing it if there is none)."""
        record = _check_record(record, "record")
        row = _row(record, "record")  # every field checked before anything is looked up
        self._check_dims([row.dim])
        blocks = self._find(record_id=row.record_id)
        if not blocks:
            self.save([record])
            return
        block, extra = blocks[0], blocks[1:]
        current = self._record(block)
        if current.private != self._stored_private(block):
            record = record.model_copy(update={"private": True})  # the view's own stays so
        if not record.content.strip():  # a fact cannot be blank: keep the old text
            record = record.model_copy(update={"content": current.content})
        row = _row(record, "record")
        in_place = block.agent_id == row.agent_id and current.created_at == row.created_at.replace(
            tzinfo=None
        )
        if in_place:
            self._session(block.session_id).update_memory(
                block.block_id,
                fact=None if row.fact.strip() == block.fact else row.fact,
                annotations=row.annotations,
                metadata=row.metadata,
                async_processing=False,
            )
        else:  # agent_id and created_at are fixed at insert: replace the block
            self._add([row])
            extra = blocks
        self._delete_blocks(extra)

    def touch_records(self, record_ids: list[str]) -> None:
        """Set ``last_accessed`` of these records to now (CrewAI calls it after recall)."""
        ids = _check_record_ids(record_ids, "record_ids")
        now = datetime.now(UTC).replace(tzinfo=None).isoformat()
        for record_id in ids:
            for block in self._find(record_id=record_id):
                meta = dict(block.metadata or {})
                own = meta.get(META_KEY)
                meta[META_KEY] = {**(own if isinstance(own, dict) else {}), "last_accessed": now}
                try:
                    self._session(block.session_id).update_memory(block.block_id, metadata=meta)
                except NotFoundError:  # deleted meanwhile
                    continue

    def get_record(self, record_id: str) -> MemoryRecord | None:
        """The record with this CrewAI id, or ``None``."""
        blocks = self._find(record_id=_check_record_id(record_id, "record_id"))
        return self._record(blocks[0]) if blocks else None

    def list_records(
        self, scope_prefix: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[MemoryRecord]:
        """Records in the scope (and below), newest first."""
        scope = _check_scope(scope_prefix, "scope_prefix")
        limit = check_limit(limit, "limit", 0, MAX_INT64)
        offset = check_offset(offset)
        if limit == 0:
            return []
        records = [self._record(b) for b in self._find(scope)]
        records.sort(key=lambda r: r.created_at, reverse=True)
        return records[offset : offset + limit]

    def get_scope_info(self, scope: str) -> ScopeInfo:
        """Record count, categories, date range and child scopes of ``scope``."""
        from crewai.memory.types import ScopeInfo

        path = _check_scope(scope, "scope")
        records = [self._record(b) for b in self._find(path)]
        dates = [r.created_at for r in records]
        return ScopeInfo(
            path=path,
            record_count=len(records),
            categories=sorted({c for r in records for c in r.categories}),
            oldest_record=min(dates, default=None),
            newest_record=max(dates, default=None),
            child_scopes=self._children(path, (r.scope for r in records)),
        )

    @staticmethod
    def _children(parent: str, scopes: Iterable[str]) -> list[str]:
        depth = len(_levels(parent))
        children = set()
        for scope in scopes:
            levels = _levels(normalize_scope(scope))
            if len(levels) > depth and levels[depth - 1] == parent:
                children.add(levels[depth])
        return sorted(children)

    def list_scopes(self, parent: str = "/") -> list[str]:
        """Immediate child scopes of ``parent`` that hold records."""
        path = _check_scope(parent, "parent")
        blocks = self._find(path)
        return self._children(path, (b.annotations.get(_SCOPE, "/") for b in blocks))

    def list_categories(self, scope_prefix: str | None = None) -> dict[str, int]:
        """Category → number of records using it, within the scope."""
        counts: dict[str, int] = {}
        for block in self._find(_check_scope(scope_prefix, "scope_prefix")):
            for category in self._record(block).categories:
                counts[category] = counts.get(category, 0) + 1
        return counts

    def count(self, scope_prefix: str | None = None) -> int:
        """Number of records in the scope and below (all of them with ``None``)."""
        scope = _check_scope(scope_prefix, "scope_prefix")
        filters = {"annotations": _scope_filter(scope), "kind": "fact"}
        return self._read(lambda user: user.count_memories(filters), 0)

    def reset(self, scope_prefix: str | None = None) -> None:
        """Delete every record in the scope and below (``None``: all CrewAI records)."""
        self.delete(scope_prefix=scope_prefix)

    # --- async: the same implementation on a worker thread --------------------------------

    @staticmethod
    async def _in_thread(call: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(call)

    async def asave(self, records: list[MemoryRecord]) -> None:
        """Async :meth:`save`."""
        await self._in_thread(functools.partial(self.save, records))

    async def asearch(
        self,
        query_embedding: list[float],
        scope_prefix: str | None = None,
        categories: list[str] | None = None,
        metadata_filter: dict[str, Any] | None = None,
        limit: int = 10,
        min_score: float = 0.0,
    ) -> list[tuple[MemoryRecord, float]]:
        """Async :meth:`search`."""
        return await self._in_thread(
            functools.partial(
                self.search,
                query_embedding,
                scope_prefix=scope_prefix,
                categories=categories,
                metadata_filter=metadata_filter,
                limit=limit,
                min_score=min_score,
            )
        )

    async def adelete(
        self,
        scope_prefix: str | None = None,
        categories: list[str] | None = None,
        record_ids: list[str] | None = None,
        older_than: datetime | None = None,
        metadata_filter: dict[str, Any] | None = None,
    ) -> int:
        """Async :meth:`delete`."""
        return await self._in_thread(
            functools.partial(
                self.delete,
                scope_prefix=scope_prefix,
                categories=categories,
                record_ids=record_ids,
                older_than=older_than,
                metadata_filter=metadata_filter,
            )
        )

    def close(self) -> None:
        """Close the client if this storage opened it (``Memory.close()`` calls this).

        Like CrewAI's LanceDB storage, the storage keeps working after ``close()``: the
        next call opens the client again (and the next ``close()`` closes it). A client
        passed in is the caller's to close.
        """
        if self._owns_client:
            self._handle.close()
