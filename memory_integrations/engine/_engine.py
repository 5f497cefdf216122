"""The memory engine: validation, TTL, processing and hybrid retrieval over storage."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import numpy as np

from .. import validation as v
from .._models import (
    AddMemoryResponse,
    ChatMessage,
    ComponentHealth,
    DeleteMemoryResponse,
    FilterOptions,
    HealthPingResponse,
    HealthResponse,
    HealthStatus,
    ListMemoriesResponse,
    MemoryBlock,
    MemoryBlockStatus,
    MemoryList,
    MessageRole,
    ModelsHealth,
    ProcessorHealth,
    QueueStats,
    RetentionConfig,
    Session,
    SessionList,
    UpdateMemoryResponse,
    User,
    UserList,
)
from .._settings import Settings
from .._version import __version__
from ..embedders import Embedder
from ..errors import (
    AgentMemoryError,
    ConflictError,
    EmbedderMismatchError,
    EmbeddingError,
    NotFoundError,
    ValidationError,
)
from ..retrieval import (
    K1,
    B,
    IndexCache,
    IndexEntry,
    RankingConfig,
    SearchIndex,
    fuse,
    hybrid_rank,
    pool_indexes,
    query_terms,
)
from ..storage import (
    EPOCH,
    BlockQuery,
    BlockRow,
    EngineStore,
    HnswParameters,
    PostgresSearch,
    SqlDatabase,
    TenantQuery,
    dumps,
    from_us,
    to_us,
    to_us_or_none,
)
from ..validation import parse_filters
from . import _transfer
from ._processing import ProcessingWorker

log = logging.getLogger("memory_integrations.engine")
T = TypeVar("T")

_US = 1_000_000
_MIN_FREE_BYTES = 1 << 20  # below this, health reports the disk as full


def _loads(value: Any) -> Any:
    """Stored JSON, or ``None`` (with a warning) when a row holds something unreadable."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):
        log.warning("unreadable stored JSON %.80r read as null", value)
        return None


def _stored_annotations(value: Any) -> dict[str, str]:
    if value == "{}":
        return {}
    loaded = _loads(value)
    if not isinstance(loaded, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}


def _stored_message(row: BlockRow) -> ChatMessage:
    """The message of a stored row, shown as well as it can be even if it breaks today's
    rules (e.g. written by an older version)."""
    role: MessageRole | None = None
    if row.role is not None:
        try:
            role = MessageRole(row.role)
        except ValueError:
            role = MessageRole.USER if row.content is not None else None
    fields: dict[str, Any] = {
        "user_content": "" if role else (row.user_content or ""),
        "assistant_content": "" if role else (row.assistant_content or ""),
        "role": role,
        "content": (row.content or "") if role else None,
        "name": row.name if role else None,
    }
    try:
        return ChatMessage(**fields)
    except Exception:
        return ChatMessage.model_construct(**fields)


def _stored_metadata(value: Any) -> dict[str, Any] | None:
    loaded = _loads(value)
    return loaded if isinstance(loaded, dict) else None


def _stored_status(value: Any) -> MemoryBlockStatus:
    try:
        return MemoryBlockStatus(value)
    except ValueError:
        return MemoryBlockStatus.EXTRACTION_FAILED


class Engine:
    """The bundled memory engine. Thread-safe; one per process and store is typical.

    Every public method validates its input first and writes nothing when it raises.
    """

    def __init__(
        self,
        database: SqlDatabase,
        *,
        embedder: Embedder,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        start_worker: bool = True,
        check_embedder: bool = True,
    ) -> None:
        self.settings = settings or Settings()
        self.database = database
        self._store = EngineStore(database)
        self.embedder = embedder
        self._clock = clock
        self._started = time.monotonic()
        if check_embedder:
            self._check_embedder()
        self._indexes = IndexCache(embedder.dim, self._index_budget())
        self._database_search = self._open_database_search(embedder.dim)
        self._warned_mismatch = False
        self._worker: ProcessingWorker | None = None
        if start_worker:
            self._worker = ProcessingWorker(
                process=self._process_batch,
                recover=self._recover,
                sweep=self.sweep,
                max_size=self.settings.queue_max_size,
                batch_size=self.settings.processing_batch_size,
                sweep_interval=self.settings.sweep_interval,
                recover_interval=max(self.settings.lease_seconds / 2, 1.0),
            )
            # The worker thread may finish a batch after close() dropped self._worker.
            self._worker_ref: ProcessingWorker = self._worker
            _open_engines.add(self)

    # --- helpers ------------------------------------------------------------------------

    def _index_budget(self) -> int:
        return int(self.settings.index_memory_mb * 2**20)

    def _open_database_search(self, dim: int) -> PostgresSearch | None:
        """On PostgreSQL the database ranks (HNSW + full text): app servers stay stateless."""
        if self.database.dialect != "postgres":
            return None
        search = PostgresSearch(
            self._store,
            dim,
            HnswParameters(
                m=self.settings.hnsw_m,
                ef_construction=self.settings.hnsw_ef_construction,
                ef_search=self.settings.hnsw_ef_search,
            ),
        )
        search.ensure_index()
        return search

    def _now(self) -> int:
        return int(self._clock() * _US)

    def _check_embedder(self) -> None:
        name, dim = self.embedder.name, self.embedder.dim
        with self.database.transaction() as cur:
            stored_name = self._store.get_meta(cur, "embedder_name")
            if stored_name is None or not self._store.has_vectors(cur):
                self._store.set_meta(cur, "embedder_name", name)
                self._store.set_meta(cur, "embedder_dim", str(dim))
                return
            self._require_stored_embedder(cur)

    def _require_stored_embedder(self, cur: Any) -> None:
        """Raise unless the store's vectors come from this engine's embedder (another
        process may have re-embedded it since this one opened)."""
        name, dim = self.embedder.name, self.embedder.dim
        stored_name = self._store.get_meta(cur, "embedder_name")
        stored_dim = self._store.get_meta(cur, "embedder_dim")
        if stored_name is not None and (stored_name != name or stored_dim != str(dim)):
            raise EmbedderMismatchError(
                f"{self.database.location} holds vectors from embedder {stored_name!r} "
                f"({stored_dim}-d), but this client uses {name!r} ({dim}-d). Pass the same "
                f"embedder, or re-embed the store with `memory-integrations reindex --path "
                f"{self.database.location} --embedder <spec>`"
            )

    def _require_user(self, cur: Any, user_id: str) -> Any:
        row = self._store.get_user(cur, user_id)
        if row is None:
            raise NotFoundError(
                f"user {user_id!r} does not exist; create it with client.create_user(...)"
            )
        return row

    def _require_session(self, cur: Any, user_id: str, session_id: str) -> Any:
        row = self._store.get_session(cur, user_id, session_id)
        if row is None:
            self._require_user(cur, user_id)
            raise NotFoundError(
                f"session {session_id!r} of user {user_id!r} does not exist; create it with "
                "user.create_session(...)"
            )
        return row

    def _user_model(self, cur: Any, row: Any) -> User:
        return User(
            id=row[0],
            name=str(row[1]),
            metadata=_stored_metadata(row[2]),
            created_at=from_us(row[3]),
            sessions=self._store.session_ids_of(cur, row[0]),
        )

    @staticmethod
    def _session_model(row: Any) -> Session:
        notes = _stored_annotations(row[4]) if row[4] is not None else None
        return Session(
            user_id=row[0],
            session_id=row[1],
            start_time=from_us(row[2]) or EPOCH,
            end_time=from_us(row[3]),
            annotations=notes,
            metadata=_stored_metadata(row[5]),
            blocks_ttl=row[6] if isinstance(row[6], int) else None,
        )

    @staticmethod
    def block_model(
        row: BlockRow, rel_score: float | None = None, similarity: float | None = None
    ) -> MemoryBlock:
        is_fact = row.kind != "message"
        ingested = from_us(row.ingested_at) or EPOCH
        fields: dict[str, Any] = dict(
            block_id=str(row.block_id),
            user_id=str(row.user_id),
            session_id=str(row.session_id),
            fact=(row.fact if row.fact is not None else str(row.text or "")) if is_fact else None,
            message=None if is_fact else _stored_message(row),
            annotations=_stored_annotations(row.annotations),
            metadata=_stored_metadata(row.metadata),
            agent_id=row.agent_id,
            created_at=from_us(row.created_at) or ingested,
            ingested_at=ingested,
            updated_at=from_us(row.updated_at),
            last_queued_at=from_us(row.last_queued_at),
            expires_at=from_us(row.expires_at),
            status=_stored_status(row.status),
            fail_count=row.fail_count if isinstance(row.fail_count, int) else 0,
            rel_score=rel_score,
            similarity=similarity,
        )
        try:
            return MemoryBlock(**fields)
        except Exception:  # a row an older version wrote: show it as it is
            log.warning("stored block %r breaks today's rules; shown as stored", row.block_id)
            return MemoryBlock.model_construct(**fields)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        try:
            vectors = self.embedder.embed_documents(list(texts))
        except AgentMemoryError:
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} failed: {exc}; retry, or check the model"
            ) from exc
        if vectors.shape != (len(texts), self.embedder.dim):
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned shape {vectors.shape}, expected "
                f"({len(texts)}, {self.embedder.dim})"
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    # --- users --------------------------------------------------------------------------

    def create_user(
        self, user_id: str, name: str, metadata: Mapping[str, Any] | None = None
    ) -> User:
        v.check_id(user_id, "user_id")
        v.check_text(name, "name")
        meta = v.check_metadata(metadata)
        with self.database.transaction() as cur:
            if not self._store.insert_user(
                cur, user_id, name, None if meta is None else dumps(meta), self._now()
            ):
                raise ConflictError(
                    f"user {user_id!r} already exists; use client.get_user({user_id!r})"
                )
            return self._user_model(cur, self._store.get_user(cur, user_id))

    def get_user(self, user_id: str) -> User:
        v.check_id(user_id, "user_id")
        with self.database.read() as cur:
            return self._user_model(cur, self._require_user(cur, user_id))

    def list_users(
        self,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> UserList:
        v.check_limit(limit, "limit", 1, 500)
        v.check_offset(offset)
        if name is not None:
            v.check_text(name, "name")
        filters = {} if metadata is None else v.check_string_filters(metadata, "metadata filter")
        with self.database.read() as cur:
            rows, total = self._store.list_users(cur, name, filters, limit, offset)
            users = [self._user_model(cur, r) for r in rows]
        return UserList(users=users, count=len(users), total=total, limit=limit, offset=offset)

    def update_user(
        self, user_id: str, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> User:
        v.check_id(user_id, "user_id")
        if name is None and metadata is None:
            raise ValidationError("user.update needs name= or metadata=")
        if name is not None:
            v.check_text(name, "name")
        meta = v.check_metadata(metadata)
        with self.database.transaction() as cur:
            self._require_user(cur, user_id)
            self._store.update_user(cur, user_id, name, None if meta is None else dumps(meta))
            return self._user_model(cur, self._store.get_user(cur, user_id))

    def delete_user(self, user_id: str) -> None:
        v.check_id(user_id, "user_id")
        with self.database.transaction() as cur:
            self._require_user(cur, user_id)
            self._store.delete_user(cur, user_id)
        self._indexes.drop(user_id)

    def modify_ttl(
        self,
        user_id: str,
        new_ttl: int,
        session_id: str | None = None,
        block_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Set the TTL (from now) of all of a user's blocks, one session's, or some blocks."""
        v.check_id(user_id, "user_id")
        ttl = v.check_ttl(new_ttl, "new_ttl")
        if ttl is None:
            raise ValidationError("new_ttl is required: seconds from now, or 0 for no expiry")
        if block_ids is not None and session_id is None:
            raise ValidationError("block_ids needs session_id: pass the session they belong to")
        if session_id is not None:
            v.check_id(session_id, "session_id")
        ids = None if block_ids is None else v.check_id_list(block_ids, "block_ids")
        now = self._now()
        expires = None if ttl == 0 else now + ttl * _US
        with self.database.transaction() as cur:
            if session_id is not None:
                self._require_session(cur, user_id, session_id)
            else:
                self._require_user(cur, user_id)
            count = self._store.set_expiry(cur, user_id, session_id, ids, expires, now)
            self._store.bump_index_version(cur, user_id, reset=True)
        return {"message": f"TTL set to {ttl}s on {count} memory blocks", "updated_count": count}

    # --- sessions -----------------------------------------------------------------------

    def create_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        memory_blocks_ttl: int | None = None,
    ) -> Session:
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        notes = v.check_annotations(annotations)
        meta = v.check_metadata(metadata)
        ttl = v.check_ttl(memory_blocks_ttl, "memory_blocks_ttl")
        with self.database.transaction() as cur:
            self._require_user(cur, user_id)
            created = self._store.insert_session(
                cur,
                user_id,
                session_id,
                self._now(),
                dumps(notes) if notes else None,
                None if meta is None else dumps(meta),
                ttl,
            )
            if not created:
                raise ConflictError(
                    f"session {session_id!r} of user {user_id!r} already exists; use "
                    f"user.get_session({session_id!r})"
                )
            return self._session_model(self._store.get_session(cur, user_id, session_id))

    def get_session(self, user_id: str, session_id: str) -> Session:
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        with self.database.read() as cur:
            return self._session_model(self._require_session(cur, user_id, session_id))

    def list_sessions(self, user_id: str, limit: int = 50, offset: int = 0) -> SessionList:
        v.check_id(user_id, "user_id")
        v.check_limit(limit, "limit", 1, 500)
        v.check_offset(offset)
        with self.database.read() as cur:
            self._require_user(cur, user_id)
            rows, total = self._store.list_sessions(cur, user_id, limit, offset)
        sessions = [self._session_model(r) for r in rows]
        return SessionList(
            sessions=sessions, count=len(sessions), total=total, limit=limit, offset=offset
        )

    def update_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        if not annotations and not metadata:
            raise ValidationError(
                "session.update needs non-empty annotations= or metadata= (an empty dict "
                "would erase them; delete and recreate the session to reset)"
            )
        notes = v.check_annotations(annotations) if annotations else None
        meta = v.check_metadata(metadata) if metadata else None
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            self._store.update_session(
                cur,
                user_id,
                session_id,
                None if notes is None else dumps(notes),
                None if meta is None else dumps(meta),
            )
            return self._session_model(self._store.get_session(cur, user_id, session_id))

    def end_session(self, user_id: str, session_id: str) -> Session:
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            self._store.end_session(cur, user_id, session_id, self._now())
            return self._session_model(self._store.get_session(cur, user_id, session_id))

    def delete_session(self, user_id: str, session_id: str) -> None:
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            self._store.delete_session(cur, user_id, session_id)
            self._store.bump_index_version(cur, user_id, reset=True)

    # --- memory blocks ------------------------------------------------------------------

    def add_memory(
        self,
        user_id: str,
        session_id: str,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        facts: Sequence[str] | None = None,
        annotations: Mapping[str, str] | Sequence[Mapping[str, str] | None] | None = None,
        async_processing: bool = True,
        memory_block_ttl: int | None = None,
        created_at: datetime | str | Sequence[datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        agent_id: str | None = None,
    ) -> AddMemoryResponse:
        """Store one block per message or fact; see the class docs for the rules.

        Blocks whose estimated size exceeds ``settings.per_block_token_limit`` are dropped
        before processing and reported in ``rejected_count`` / ``rejected_details``; the call
        still succeeds for the others.
        """
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        request = v.normalise_add(
            messages,
            facts,
            annotations,
            async_processing,
            memory_block_ttl,
            created_at,
            metadata,
            agent_id,
        )
        request, rejected = request.without_oversized(self.settings.per_block_token_limit)
        texts, count = request.texts, request.count
        vectors = None
        if count and not request.async_processing:
            vectors = self._embed(texts)
        if count and request.async_processing and self._worker is not None:
            self._worker.reserve(count)
        now = self._now()
        block_ids = [str(uuid.uuid4()) for _ in range(count)]
        with self.database.transaction() as cur:
            session = self._require_session(cur, user_id, session_id)
            self._require_stored_embedder(cur)
            if session[3] is not None:
                raise ConflictError(
                    f"session {session_id!r} has ended and accepts no new memory; start a new "
                    "session for the next conversation"
                )
            ttl = request.ttl
            if ttl is None:
                ttl = self.settings.memory_block_ttl if session[6] is None else session[6]
            expires = None if ttl == 0 else now + ttl * _US
            version = 0
            if vectors is not None:
                version = self._store.bump_index_version(cur, user_id, reset=False)
            rows = [
                {
                    "block_id": block_ids[i],
                    "user_id": user_id,
                    "session_id": session_id,
                    "kind": request.kind,
                    "fact": request.facts[i] if request.kind == "fact" else None,
                    **_message_columns(request.messages[i] if request.kind == "message" else None),
                    "text": texts[i],
                    "annotations": dumps(request.annotations[i]),
                    "metadata": None if request.metadata[i] is None else dumps(request.metadata[i]),
                    "agent_id": request.agent_id,
                    "created_at": to_us_or_none(request.created_at[i]),
                    "ingested_at": now,
                    "updated_at": now,
                    "last_queued_at": now if vectors is None else None,
                    "expires_at": expires,
                    "status": "processing" if vectors is None else "ready",
                    "fail_count": 0,
                    "embedding": None if vectors is None else vectors[i].tobytes(),
                    "index_version": version,
                }
                for i in range(count)
            ]
            seqs = self._store.insert_blocks(cur, rows)
        if vectors is None and self._worker is not None:
            self._worker.submit(seqs)
        stored = f"{count} memory blocks stored"
        if count and vectors is None:
            stored += ", processing in the background"
        if rejected:
            stored += f"; {len(rejected)} rejected (see rejected_details)"
        return AddMemoryResponse(
            message=stored,
            accepted_count=count,
            block_ids=block_ids,
            rejected_count=len(rejected),
            rejected_details=rejected,
        )

    def get_memory_block(self, user_id: str, session_id: str, block_id: str) -> MemoryBlock:
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        v.check_id(block_id, "block_id", allow_percent=True)
        with self.database.read() as cur:
            row = self._store.get_block(cur, user_id, session_id, block_id)
            if row is None or (row.expires_at is not None and row.expires_at <= self._now()):
                self._require_session(cur, user_id, session_id)
                raise NotFoundError(
                    f"memory block {block_id!r} does not exist in session {session_id!r} "
                    "(or has expired)"
                )
        return self.block_model(row)

    def update_memory(
        self,
        user_id: str,
        session_id: str,
        block_id: str,
        message: ChatMessage | Mapping[str, Any] | None = None,
        fact: str | None = None,
        annotations: Mapping[str, str] | None = None,
        memory_block_ttl: int | None = None,
        async_processing: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> UpdateMemoryResponse:
        """Change a ready block's content, annotations, metadata or TTL."""
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        v.check_id(block_id, "block_id", allow_percent=True)
        if (
            message is None
            and fact is None
            and annotations is None
            and (memory_block_ttl is None and metadata is None)
        ):
            raise ValidationError(
                "update_memory needs at least one of message, fact, annotations, "
                "memory_block_ttl or metadata"
            )
        if message is not None and fact is not None:
            raise ValidationError("pass message or fact, not both: a block holds one of them")
        new_message = None if message is None else v.to_message(message)
        new_fact = None if fact is None else v.check_text(fact, "fact").strip()
        notes = None if annotations is None else v.check_annotations(annotations)
        meta = v.check_metadata(metadata)
        ttl = v.check_ttl(memory_block_ttl, "memory_block_ttl")
        v.check_bool(async_processing, "async_processing")
        new_text = (
            new_fact
            if new_fact is not None
            else (None if new_message is None else new_message.text)
        )
        limit = self.settings.per_block_token_limit
        if new_text is not None and v.estimate_tokens(new_text) > limit:
            raise ValidationError(
                f"the new content is about {v.estimate_tokens(new_text)} tokens, over the "
                f"per-block limit of {limit} (MEMORY_INTEGRATIONS_PER_BLOCK_TOKEN_LIMIT); "
                "shorten it or split it into several blocks"
            )
        now = self._now()
        with self.database.read() as cur:
            row = self._store.get_block(cur, user_id, session_id, block_id)
        self._check_updatable(row, user_id, session_id, block_id, now, new_fact, new_message)
        vectors = None
        if new_text is not None and not async_processing:
            vectors = self._embed([new_text])
        if new_text is not None and async_processing and self._worker is not None:
            self._worker.reserve(1)
        with self.database.transaction() as cur:
            row = self._store.get_block(cur, user_id, session_id, block_id)
            self._check_updatable(row, user_id, session_id, block_id, now, new_fact, new_message)
            assert row is not None
            if new_text is not None:
                self._require_stored_embedder(cur)
            fields: dict[str, Any] = {"updated_at": now}
            if notes is not None:
                fields["annotations"] = dumps(notes)
            if meta is not None:
                fields["metadata"] = dumps(meta)
            if ttl is not None:
                fields["expires_at"] = None if ttl == 0 else now + ttl * _US
            if new_fact is not None:
                fields["fact"] = new_fact
            if new_message is not None:
                fields.update(_message_columns(new_message))
            reset = ttl is not None
            if new_text is not None:
                fields["text"] = new_text
                fields["fail_count"] = 0
                if vectors is not None:
                    fields["status"] = "ready"
                    fields["embedding"] = vectors[0].tobytes()
                else:
                    fields.update(status="processing", embedding=None, last_queued_at=now)
                reset = True
            elif row.status == "extraction_failed" and async_processing:
                # The guide's retry path for a permanently failed block.
                fields.update(status="processing", fail_count=0, last_queued_at=now)
                reset = True
            if reset:
                fields["index_version"] = self._store.bump_index_version(cur, user_id, reset=True)
            self._store.update_block(cur, row.seq, fields)
            updated = self._store.get_block(cur, user_id, session_id, block_id)
        assert updated is not None
        if updated.status == "processing" and self._worker is not None:
            self._worker.submit([updated.seq])
        return UpdateMemoryResponse(message="memory block updated", block=self.block_model(updated))

    def _check_updatable(
        self,
        row: BlockRow | None,
        user_id: str,
        session_id: str,
        block_id: str,
        now: int,
        new_fact: str | None,
        new_message: ChatMessage | None,
    ) -> None:
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            with self.database.read() as cur:
                self._require_session(cur, user_id, session_id)
            raise NotFoundError(
                f"memory block {block_id!r} does not exist in session {session_id!r} "
                "(or has expired)"
            )
        if row.status == "processing":
            raise ConflictError(
                f"memory block {block_id!r} is still processing; wait until it is ready, or "
                "add blocks with async_processing=False when you must update them at once"
            )
        if new_fact is not None and row.kind != "fact":
            raise ValidationError(
                f"block {block_id!r} is a message block; its content type is fixed: pass "
                "message=, not fact="
            )
        if new_message is not None and row.kind != "message":
            raise ValidationError(
                f"block {block_id!r} is a fact block; its content type is fixed: pass fact=, "
                "not message="
            )

    def delete_memory(
        self, user_id: str, session_id: str, block_ids: Sequence[str] | str
    ) -> DeleteMemoryResponse:
        """Delete blocks by id (absent ids count as deleted, so retries are safe) or ``"all"``."""
        v.check_id(user_id, "user_id")
        v.check_id(session_id, "session_id")
        ids: list[str] | None
        if block_ids == "all":
            ids = None
        elif isinstance(block_ids, str):
            ids = [v.check_id(block_ids, "block_id", allow_percent=True)]
        else:
            ids = v.check_id_list(block_ids, "block_ids", allow_percent=True)
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            deleted = self._store.delete_blocks(cur, user_id, session_id, ids)
            self._store.bump_index_version(cur, user_id, reset=True)
        return DeleteMemoryResponse(deleted_count=deleted if ids is None else len(ids))

    def list_memories(
        self,
        user_id: str,
        session_ids: Sequence[str] | str | None = None,
        limit: int = 20,
        offset: int = 0,
        order_by: str = "ingested_at",
    ) -> ListMemoriesResponse:
        """One page of blocks (any status), oldest first by ``order_by``."""
        v.check_id(user_id, "user_id")
        v.check_limit(limit, "limit", 1, 200)
        v.check_offset(offset)
        v.check_order_by(order_by)
        scope = self._scope(session_ids, None)
        with self.database.read() as cur:
            self._require_user(cur, user_id)
            q = BlockQuery(user_id=user_id, now=self._now(), session_ids=scope)
            total = self._store.count_blocks(cur, q)
            rows = self._store.query_blocks(cur, q, order_by=order_by, limit=limit, offset=offset)
        blocks = [self.block_model(r) for r in rows]
        return ListMemoriesResponse(
            memory_blocks=blocks, count=len(blocks), total=total, limit=limit, offset=offset
        )

    def _scope(
        self, session_ids: Sequence[str] | str | None, default: str | None
    ) -> list[str] | None:
        if session_ids is None:
            return None if default is None else [default]
        if isinstance(session_ids, str):
            if session_ids.lower() == "all":
                return None
            return [v.check_id(s, "each of session_ids") for s in session_ids.split(",")]
        return v.check_id_list(session_ids, "session_ids")

    def _query(
        self,
        user_id: str,
        session_id: str | None,
        options: FilterOptions,
        statuses: list[str] | None,
    ) -> BlockQuery:
        annotations = v.check_annotations(options.annotations, "annotations filter")
        block_ids = (
            None
            if options.block_ids is None
            else v.check_id_list(options.block_ids, "block_ids", allow_percent=True)
        )
        if options.agent_id is not None:
            v.check_id(options.agent_id, "agent_id")
        for text, what in (
            (options.metadata_contains, "metadata_contains"),
            (options.content_contains, "content_contains"),
        ):
            if text is not None:
                v.check_text(text, what)

        def us(moment: datetime | None) -> int | None:
            return None if moment is None else to_us(v.check_datetime(moment, "time") or moment)

        return BlockQuery(
            user_id=user_id,
            now=self._now(),
            session_ids=self._scope(options.session_ids, session_id),
            block_ids=block_ids,
            statuses=statuses,
            ingested_from=us(options.start_time),
            ingested_to=us(options.end_time),
            created_from=us(options.created_start_time),
            created_to=us(options.created_end_time),
            annotations=annotations,
            metadata_contains=options.metadata_contains,
            content_contains=options.content_contains,
            agent_id=options.agent_id,
            kind=options.kind,
            role=None if options.role is None else options.role.value,
        )

    def search_memory(
        self,
        user_id: str,
        session_id: str | None,
        query: str | None = None,
        filters: FilterOptions | Mapping[str, Any] | None = None,
    ) -> MemoryList:
        """Hybrid search (with ``query``) or filter-only lookup (without) of ready blocks.

        ``session_id`` is the default scope; ``None`` means every session of the user.
        """
        v.check_id(user_id, "user_id")
        if session_id is not None:
            v.check_id(session_id, "session_id")
        options = parse_filters(filters)
        if query is not None:
            v.check_text(query, "query")
        k = v.check_limit(options.relevant_k, "relevant_k", 1, v.MAX_RELEVANT_K)
        if options.limit is not None:
            v.check_limit(options.limit, "limit", 1, 10_000)
        v.check_threshold(options.threshold)
        q = self._query(user_id, session_id, options, ["ready"])
        if query is None:
            with self.database.read() as cur:
                self._check_scope_owner(cur, user_id, session_id)
                rows = self._store.query_blocks(
                    cur,
                    q,
                    order_by=options.order_by,
                    limit=options.limit,
                    offset=v.check_offset(options.offset),
                    descending=options.descending,
                )
            blocks = [self.block_model(r) for r in rows]
            return MemoryList(memory_blocks=blocks, count=len(blocks))
        query_vector = self._embed_query(query)
        post = options.annotation_filter_mode == "post" and bool(q.annotations)
        pre_q = dataclasses.replace(q, annotations={}) if post else q
        if self._database_search is None:
            rank, open_cursor = self._rank_in_memory, self.database.read
        else:  # index scan settings are transaction-local
            rank, open_cursor = self._rank_in_database, self.database.transaction
        with open_cursor() as cur:
            self._check_scope_owner(cur, user_id, session_id)
            if self._database_search is not None:  # in memory, an index reload checks it
                self._require_stored_embedder(cur)
            hits = rank(cur, pre_q, query_vector, query, k, options.threshold)
            rows = self._store.blocks_by_seq(cur, user_id, [h[0] for h in hits])
        by_seq = {r.seq: r for r in rows}
        blocks = []
        for seq, score, similarity in hits:
            row = by_seq.get(seq)
            if row is None:
                continue
            block = self.block_model(row, rel_score=round(score, 6), similarity=similarity)
            if post and any(block.annotations.get(a) != b for a, b in q.annotations.items()):
                continue
            blocks.append(block)
        return MemoryList(memory_blocks=blocks, count=len(blocks))

    def _rank_in_memory(
        self,
        cur: Any,
        q: BlockQuery,
        query_vector: np.ndarray,
        query: str,
        k: int,
        threshold: float | None,
    ) -> list[tuple[int, float, float]]:
        """(seq, score, cosine) of the best ``k`` blocks, from the user's in-memory index."""
        allowed = None
        if q.needs_sql:
            allowed = np.array(self._store.matching_seqs(cur, q), dtype=np.int64)
        index = self._user_index(cur, q.user_id)
        with self._indexes.lock_for(q.user_id):
            visible = index.visible(q.now, q.session_ids, allowed)
            ranked = hybrid_rank(
                visible,
                index.dense(query_vector, visible),
                index.keywords.scores(query_terms(query)),
                index.neighbours(),
                k,
                threshold=threshold,
            )
            return [(int(index.seqs[pos]), score, cos) for pos, score, cos in ranked]

    def _rank_in_database(
        self,
        cur: Any,
        q: BlockQuery,
        query_vector: np.ndarray,
        query: str,
        k: int,
        threshold: float | None,
    ) -> list[tuple[int, float, float]]:
        """(seq, score, cosine) of the best ``k`` blocks, ranked from PostgreSQL's indexes."""
        assert self._database_search is not None
        pool = self._database_search.pool(
            cur, q, query_vector, query, RankingConfig().depth, bm25=(K1, B)
        )
        ranked = fuse(
            pool.cosine,
            pool.keyword,
            pool_indexes(pool.prev, pool.seqs),
            pool_indexes(pool.nxt, pool.seqs),
            k,
            threshold=threshold,
        )
        return [(int(pool.seqs[i]), score, cos) for i, score, cos in ranked]

    def _check_scope_owner(self, cur: Any, user_id: str, session_id: str | None) -> None:
        if session_id is None:
            self._require_user(cur, user_id)
        else:
            self._require_session(cur, user_id, session_id)

    def _embed_query(self, query: str) -> np.ndarray:
        try:
            vector = self.embedder.embed_query(query)
        except AgentMemoryError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"embedder {self.embedder.name!r} failed: {exc}") from exc
        return np.asarray(vector, dtype=np.float32).reshape(-1)

    def _user_index(self, cur: Any, user_id: str) -> SearchIndex:
        """The user's search index, brought up to date with storage."""
        versions = self._store.index_versions(cur, user_id)
        index_version, reset_version, generation = versions or (0, 0, "")
        with self._indexes.lock_for(user_id):
            entry = self._indexes.get(user_id)
            if (
                entry is None
                or entry.generation != generation  # the user was deleted and created again
                or reset_version > entry.version
            ):
                self._require_stored_embedder(cur)
                entry = SearchIndex(self.embedder.dim)
                entry.generation = generation
                after = -1  # everything, including imported rows of version 0
            elif index_version > entry.version:
                after = entry.version
            else:
                return entry
            entry.append(
                [
                    IndexEntry(seq, session, expires, kind == "message", text, blob)
                    for seq, session, expires, kind, text, blob in self._store.indexed_blocks(
                        cur, user_id, after
                    )
                    if self._usable_vector(seq, blob)
                ]
            )
            entry.version = index_version
            self._indexes.put(user_id, entry)
            return entry

    def _usable_vector(self, seq: int, blob: bytes) -> bool:
        """Whether a stored vector can be searched: this embedder's size, finite values.
        Anything else (written by a bug or another tool) is left out with a warning
        instead of breaking every search of its user."""
        if (
            len(blob) == 4 * self.embedder.dim
            and np.isfinite(np.frombuffer(blob, np.float32)).all()
        ):
            return True
        log.warning("block seq %d has an unusable stored vector; it is not searchable", seq)
        return False

    def count_memories(
        self,
        user_id: str,
        session_id: str | None = None,
        filters: FilterOptions | Mapping[str, Any] | None = None,
    ) -> int:
        """Number of live blocks (any status) matching the filters."""
        v.check_id(user_id, "user_id")
        options = parse_filters(filters)
        q = self._query(user_id, session_id, options, statuses=None)
        with self.database.read() as cur:
            self._check_scope_owner(cur, user_id, session_id)
            return self._store.count_blocks(cur, q)

    # --- processing ---------------------------------------------------------------------

    def _process_batch(self, seqs: list[int]) -> list[int]:
        worker = self._worker_ref
        now = self._now()
        lease_until = now + int(self.settings.lease_seconds * _US)
        try:
            with self.database.transaction() as cur:
                self._require_stored_embedder(cur)
                claimed = self._store.claim(cur, seqs, worker.owner, now, lease_until)
        except EmbedderMismatchError as exc:
            # Another process re-embedded the store: leave these blocks queued in storage for
            # a process with the store's embedder, rather than writing foreign vectors.
            if not self._warned_mismatch:
                self._warned_mismatch = True
                log.error("not processing blocks: %s", exc)
            return []
        if not claimed:
            return []
        done: list[tuple[int, str, np.ndarray]] = []
        failed: list[tuple[int, str, str, int]] = []
        try:
            vectors = self._embed([text for _, _, text, _ in claimed])
            done = [
                (seq, user, vec) for (seq, user, _, _), vec in zip(claimed, vectors, strict=True)
            ]
        except Exception as exc:
            log.warning("embedding a batch of %d blocks failed: %s", len(claimed), exc)
            # One bad input must not fail its neighbours: retry the batch one by one.
            for item in claimed if len(claimed) > 1 else []:
                try:
                    done.append((item[0], item[1], self._embed([item[2]])[0]))
                except Exception:
                    failed.append(item)
            if len(claimed) == 1:
                failed = list(claimed)
        if done:
            with self.database.transaction() as cur:
                for seq, user_id, vector in done:
                    version = self._store.bump_index_version(cur, user_id, reset=False)
                    self._store.complete(cur, seq, worker.owner, vector.tobytes(), version, now)
        return self._record_failures(failed) if failed else []

    def _record_failures(self, claimed: list[tuple[int, str, str, int]]) -> list[int]:
        worker = self._worker_ref
        retry: list[int] = []
        with self.database.transaction() as cur:
            for seq, _, _, _ in claimed:
                status = self._store.fail(cur, seq, worker.owner, self.settings.max_attempts)
                if status == "processing":
                    retry.append(seq)
                elif status == "extraction_failed":
                    worker.stats.total_failed += 1
        return retry

    def _recover(self) -> list[int]:
        with self.database.read() as cur:
            return self._store.pending(cur, self._now(), self.settings.max_attempts, 10_000)

    def wait_until_processed(self, timeout: float | None = 60.0) -> bool:
        """Wait until every queued block has been embedded (or has failed for good)."""
        return True if self._worker is None else self._worker.wait_idle(timeout)

    # --- lifecycle ----------------------------------------------------------------------

    def sweep(self) -> dict[str, int]:
        """Delete expired blocks and blocks past the retention policy. Safe to run anywhere."""
        now = self._now()
        retention = self.get_retention()
        removed = {"expired": 0, "messages_past_retention": 0, "facts_past_retention": 0}
        with self.database.transaction() as cur:
            users = set(self._store.expired_users(cur, now))
            removed["expired"] = self._store.delete_expired(cur, now)
            for kind, days, key in (
                ("message", retention.message_days, "messages_past_retention"),
                ("fact", retention.memory_days, "facts_past_retention"),
            ):
                if days is None:
                    continue
                cutoff = now - days * 86_400 * _US
                users.update(self._store.retention_users(cur, kind, cutoff))
                removed[key] = self._store.delete_older_than(cur, kind, cutoff)
            for user_id in users:
                self._store.bump_index_version(cur, user_id, reset=True)
        return removed

    def get_retention(self) -> RetentionConfig:
        with self.database.read() as cur:
            raw = self._store.get_meta(cur, "retention")
        return RetentionConfig() if raw is None else RetentionConfig.model_validate_json(raw)

    def set_retention(
        self,
        message_days: int | Literal["keep"] | None = "keep",
        memory_days: int | Literal["keep"] | None = "keep",
    ) -> RetentionConfig:
        """Partial update; ``None`` disables a category's clean-up, ``"keep"`` leaves it."""
        current = self.get_retention()
        values = current.model_dump()
        for name, value in (("message_days", message_days), ("memory_days", memory_days)):
            if value == "keep":
                continue
            values[name] = v.check_days(value, name)
        values["updated_at"] = from_us(self._now())
        config = RetentionConfig.model_validate(values)
        with self.database.transaction() as cur:
            self._store.set_meta(cur, "retention", config.model_dump_json())
        return config

    def reindex(
        self,
        embedder: Embedder,
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Re-embed every block with ``embedder`` and make it the store's embedder."""
        self.wait_until_processed()
        self.embedder = embedder
        self._indexes = IndexCache(embedder.dim, self._index_budget())
        self._database_search = self._open_database_search(embedder.dim)
        done, after = 0, 0
        while True:
            with self.database.read() as cur:
                chunk = self._store.all_block_texts(cur, after, batch_size)
            if not chunk:
                break
            vectors = self._embed([text for _, _, text in chunk])
            with self.database.transaction() as cur:
                for (seq, user_id, _), vector in zip(chunk, vectors, strict=True):
                    version = self._store.bump_index_version(cur, user_id, reset=False)
                    self._store.set_embedding(cur, seq, vector.tobytes(), version)
            after = chunk[-1][0]
            done += len(chunk)
            if progress is not None:
                progress(len(chunk))
        with self.database.transaction() as cur:
            self._store.set_meta(cur, "embedder_name", embedder.name)
            self._store.set_meta(cur, "embedder_dim", str(embedder.dim))
            self._store.reset_all_indexes(cur)
        return done

    def export_records(self, user_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Stream one user's (or every user's) records for ``import_records``."""
        if user_id is not None:
            v.check_id(user_id, "user_id")
            self.get_user(user_id)  # NotFoundError before the first record
        return _transfer.export_records(self._store, self.database, self.embedder, user_id)

    def count_export_blocks(self, user_id: str | None = None) -> int:
        """How many block records ``export_records(user_id)`` will yield."""
        return _transfer.count_records(self.database, user_id)

    def import_records(
        self, records: Iterable[object], progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Insert exported records, all or nothing; refuses users that already exist.

        Every record is checked as the API checks its arguments; a bad one raises a typed
        error naming the record and leaves the store as it was.
        """
        result = _transfer.import_records(
            self._store, self.database, self.embedder, records, progress
        )
        if result.queued and self._worker is not None:
            self._worker.submit(result.queued)
        return result.counts

    def health(self, entity: str | None = None) -> HealthPingResponse:
        checked: list[str] = []
        storage = self._storage_health()
        checked.append("storage")
        try:
            self._embed_query("health check")
            embedding = ComponentHealth(status="healthy", model=self.embedder.name)
        except Exception as exc:
            embedding = ComponentHealth(
                status="unhealthy", model=self.embedder.name, details={"error": str(exc)}
            )
        checked.append("models")
        models = ModelsHealth(
            status=HealthStatus.HEALTHY
            if embedding.status == "healthy"
            else HealthStatus.UNHEALTHY,
            embedding=embedding,
            llm=ComponentHealth(status="not_used", details={"reason": "no LLM extraction"}),
        )
        processor = self.processing_status()
        checked.append("async-batch-processor")
        healthy = (
            storage["status"] == "healthy"
            and embedding.status == "healthy"
            and processor.status in ("healthy", "not_initialized")
        )
        status = HealthStatus.HEALTHY if healthy else HealthStatus.DEGRADED
        return HealthPingResponse(
            server=HealthResponse(
                status=status, version=__version__, uptime_seconds=time.monotonic() - self._started
            ),
            storage=storage,
            models=models,
            async_batch_processor=processor,
            overall_status=status,
            checked_entities=["server", *checked],
        )

    def processing_status(self) -> ProcessorHealth:
        """The background processing worker: alive, queue sizes and counters."""
        worker = self._worker
        if worker is None:
            return ProcessorHealth(status="not_initialized")
        stats = worker.stats
        return ProcessorHealth(
            status="healthy" if worker.alive else "unhealthy",
            queue=QueueStats(
                size=worker.size,
                queued_ids=worker.size,
                processing=worker.in_flight,
                max_size=worker.max_size,
            ),
            statistics={
                "total_enqueued": stats.total_enqueued,
                "total_recovered": stats.total_recovered,
                "total_completed": stats.total_completed,
                "total_failed": stats.total_failed,
                "queue_full": stats.queue_full,
            },
            loop_running=worker.alive,
            dispatcher_alive=worker.alive,
        )

    def now_us(self) -> int:
        """The engine's clock, in epoch microseconds (the unit of stored times)."""
        return self._now()

    def tenant_blocks(
        self,
        kind: Literal["fact", "message"],
        *,
        equals: Mapping[str, str] | None = None,
        contains: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
        with_total: bool = False,
    ) -> tuple[list[BlockRow], int | None]:
        """Live blocks of one kind across every user of this store, oldest first (the SAP
        API's entity lists); ``equals`` / ``contains`` filter columns of ``TenantQuery``."""
        q = TenantQuery(kind, self._now(), dict(equals or {}), dict(contains or {}))
        with self.database.read() as cur:
            return self._store.tenant_blocks(cur, q, limit, offset, with_total)

    def blocks_by_block_id(self, block_ids: Sequence[str]) -> list[BlockRow]:
        """Stored rows of these blocks, whoever they belong to (for server-side views)."""
        if not block_ids:
            return []
        with self.database.read() as cur:
            return self._store.blocks_by_block_id(cur, block_ids)

    def _storage_health(self) -> dict[str, Any]:
        """Whether storage answers reads and takes a write (a full disk or a read-only file
        fails the write), with the free disk space of a SQLite file."""
        report: dict[str, Any] = {
            "dialect": self.database.dialect,
            "location": self.database.location,
        }
        try:
            with self.database.read() as cur:
                report["processing_blocks"] = self._store.count_processing(cur)
            with self.database.transaction() as cur:
                self._store.set_meta(cur, "health_probe", str(self._now()))
        except Exception as exc:
            report.update(status="unhealthy", error=str(exc))
            if isinstance(exc, AgentMemoryError) and getattr(exc, "retry_after", None):
                report["retry_after"] = exc.retry_after  # type: ignore[attr-defined]
            return report
        report["status"] = "healthy"
        if self.database.dialect == "sqlite" and self.database.location != ":memory:":
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(
                    os.path.dirname(os.path.abspath(self.database.location))
                ).free
                report["disk_free_bytes"] = free
                if free < _MIN_FREE_BYTES:  # small writes may still fit; larger ones fail
                    report.update(
                        status="unhealthy",
                        error=f"the disk under {self.database.location} is full "
                        f"({free} bytes free); free space",
                        retry_after=30.0,
                    )
        return report

    def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the worker (finishing queued embeddings first when ``drain``)."""
        _open_engines.discard(self)
        if self._worker is not None:
            self._worker.stop(drain=drain, timeout=timeout)
            self._worker = None
        self.database.close()


# Engines with a processing worker that have not been closed. At interpreter exit they are
# closed here, before the runtime tears down: a worker thread still inside the embedding
# model (native code) at that point aborts the process ("terminate called without an active
# exception"), and its blocks would stay queued until the next open.
_open_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_open_engines):
        try:
            engine.close(drain=True, timeout=engine.settings.exit_timeout)
        except Exception:  # exiting anyway: report, never raise
            log.exception("closing a memory engine at exit failed")


def _message_columns(message: ChatMessage | None) -> dict[str, str | None]:
    """The stored columns of a message (all None for a fact)."""
    exchange = message is not None and message.role is None
    return {
        "user_content": message.user_content if exchange and message else None,
        "assistant_content": message.assistant_content if exchange and message else None,
        "role": None if message is None or message.role is None else message.role.value,
        "content": None if message is None else message.content,
        "name": None if message is None else message.name,
    }
