"""The memory engine: validation, TTL, processing and hybrid retrieval over storage."""

from __future__ import annotations

import atexit
import logging
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from .. import validation
from .._models import (
    AddMemoryResponse,
    ChatMessage,
    DeleteMemoryResponse,
    MemoryBlock,
    Session,
    SessionList,
    UpdateMemoryResponse,
    User,
    UserList,
)
from .._settings import Settings
from ..embedders import Embedder
from ..errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from ..extraction import Extractor, resolve_extractor
from ..retrieval import (
    IndexCache,
)
from ..storage import (
    BlockRow,
    EngineStore,
    SqlDatabase,
    dumps,
    to_us_or_none,
)
from ._base import further_windows
from ._extraction import stored_extraction, wants_extraction
from ._maintenance import Maintenance
from ._processing import ProcessingWorker
from ._prompts import PromptRegistry, Prompts
from ._rows import message_columns, stored_annotations
from ._search import Search

log = logging.getLogger("memory_integrations.engine")
T = TypeVar("T")

_US = 1_000_000
_MIN_FREE_BYTES = 1 << 20  # below this, health reports the disk as full


class Engine(Search, Maintenance, Prompts):
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
        extractor: Extractor | Any = None,
    ) -> None:
        self.settings = settings or Settings()
        self.database = database
        self._store = EngineStore(database)
        self.embedder = embedder
        self.prompts = PromptRegistry(database, clock=clock)
        self._move_prompt_stamps()
        self.extractor = resolve_extractor(
            extractor if extractor is not None else self.settings.extraction_model,
            max_tokens=self.settings.extraction_max_tokens,
        )
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

    # --- users --------------------------------------------------------------------------

    def create_user(
        self, user_id: str, name: str, metadata: Mapping[str, Any] | None = None
    ) -> User:
        validation.check_id(user_id, "user_id")
        validation.check_text(name, "name")
        meta = validation.check_metadata(metadata)
        with self.database.transaction() as cur:
            if not self._store.insert_user(
                cur, user_id, name, None if meta is None else dumps(meta), self._now()
            ):
                raise ConflictError(
                    f"user {user_id!r} already exists; use client.get_user({user_id!r})"
                )
            return self._user_model(cur, self._store.get_user(cur, user_id))

    def get_user(self, user_id: str) -> User:
        validation.check_id(user_id, "user_id")
        with self.database.read() as cur:
            return self._user_model(cur, self._require_user(cur, user_id))

    def list_users(
        self,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> UserList:
        validation.check_limit(limit, "limit", 1, 500)
        validation.check_offset(offset)
        if name is not None:
            validation.check_text(name, "name")
        filters = (
            {} if metadata is None else validation.check_string_filters(metadata, "metadata filter")
        )
        with self.database.read() as cur:
            rows, total = self._store.list_users(cur, name, filters, limit, offset)
            users = [self._user_model(cur, r) for r in rows]
        return UserList(users=users, count=len(users), total=total, limit=limit, offset=offset)

    def update_user(
        self, user_id: str, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> User:
        validation.check_id(user_id, "user_id")
        if name is None and metadata is None:
            raise ValidationError("user.update needs name= or metadata=")
        if name is not None:
            validation.check_text(name, "name")
        meta = validation.check_metadata(metadata)
        with self.database.transaction() as cur:
            self._require_user(cur, user_id)
            self._store.update_user(cur, user_id, name, None if meta is None else dumps(meta))
            return self._user_model(cur, self._store.get_user(cur, user_id))

    def delete_user(self, user_id: str) -> None:
        validation.check_id(user_id, "user_id")
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
        validation.check_id(user_id, "user_id")
        ttl = validation.check_ttl(new_ttl, "new_ttl")
        if ttl is None:
            raise ValidationError("new_ttl is required: seconds from now, or 0 for no expiry")
        if block_ids is not None and session_id is None:
            raise ValidationError("block_ids needs session_id: pass the session they belong to")
        if session_id is not None:
            validation.check_id(session_id, "session_id")
        ids = None if block_ids is None else validation.check_id_list(block_ids, "block_ids")
        now = self._now()
        expires = None if ttl == 0 else now + ttl * _US
        with self.database.transaction() as cur:
            if session_id is not None:
                self._require_session(cur, user_id, session_id)
            else:
                self._require_user(cur, user_id)
            self._store.lock_users(cur, [user_id])
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
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        notes = validation.check_annotations(annotations)
        meta = validation.check_metadata(metadata)
        ttl = validation.check_ttl(memory_blocks_ttl, "memory_blocks_ttl")
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
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        with self.database.read() as cur:
            return self._session_model(self._require_session(cur, user_id, session_id))

    def list_sessions(self, user_id: str, limit: int = 50, offset: int = 0) -> SessionList:
        validation.check_id(user_id, "user_id")
        validation.check_limit(limit, "limit", 1, 500)
        validation.check_offset(offset)
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
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        if not annotations and not metadata:
            raise ValidationError(
                "session.update needs non-empty annotations= or metadata= (an empty dict "
                "would erase them; delete and recreate the session to reset)"
            )
        notes = validation.check_annotations(annotations) if annotations else None
        meta = validation.check_metadata(metadata) if metadata else None
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
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            self._store.end_session(cur, user_id, session_id, self._now())
            return self._session_model(self._store.get_session(cur, user_id, session_id))

    def delete_session(self, user_id: str, session_id: str) -> None:
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            self._store.lock_users(cur, [user_id])
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
        prompt_id: str | None = None,
        prompt_vid: int | None = None,
        context_required: bool | None = None,
        manage_facts: bool | None = None,
    ) -> AddMemoryResponse:
        """Store one block per message or fact; see the class docs for the rules.

        Blocks whose estimated size exceeds ``settings.per_block_token_limit`` are dropped
        before processing and reported in ``rejected_count`` / ``rejected_details``; the call
        still succeeds for the others. ``prompt_id`` / ``prompt_vid`` name the registry
        prompt extraction uses (its current version when no ``prompt_vid``);
        ``context_required=False`` keeps the blocks away from extraction. With
        ``manage_facts`` (default ``settings.manage_facts``) messages yield facts (given an
        extraction model), and each added fact is first compared with the user's known ones:
        a repeat is not stored, and with a model a fact may update or delete a known one
        instead (reported in ``rejected_details``; see :meth:`fact_history`).
        """
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        prompt = self._prompt_choice(prompt_id, prompt_vid, context_required)
        request = validation.normalise_add(
            messages,
            facts,
            annotations,
            async_processing,
            memory_block_ttl,
            created_at,
            metadata,
            agent_id,
        )
        manage = self.settings.manage_facts if manage_facts is None else manage_facts
        validation.check_bool(manage, "manage_facts")
        request, rejected = request.without_oversized(self.settings.per_block_token_limit)
        if manage and request.kind == "fact" and request.count:
            with self.database.read() as cur:
                self._require_session(cur, user_id, session_id)
            request, rejected = self._manage_added_facts(user_id, request, rejected)
        texts, count = request.texts, request.count
        block_ids = [str(uuid.uuid4()) for _ in range(count)]
        vectors = None
        extracted: dict[int, tuple[str, str]] = {}
        if count and not request.async_processing:
            if self.extractor is not None:
                wanted = [
                    i
                    for i in range(count)
                    if wants_extraction(context_required, request.annotations[i])
                ]
                derive = manage and request.kind == "message"
                results = self._extract_now([texts[i] for i in wanted], *prompt[:2], derive)
                extracted = {i: stored_extraction(r) for i, r in zip(wanted, results, strict=True)}
                for i, result in zip(wanted, results, strict=True):
                    if derive and result.facts:
                        self._derive_facts(user_id, session_id, list(result.facts), block_ids[i])
            vectors = self._embed(texts)
        if count and request.async_processing and self._worker is not None:
            self._worker.reserve(count)
        now = self._now()
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
                    **message_columns(request.messages[i] if request.kind == "message" else None),
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
                    "embedding": None if vectors is None else vectors[i][0].tobytes(),
                    "index_version": version,
                    "summary": extracted[i][0] if i in extracted else None,
                    "contexts": extracted[i][1] if i in extracted else None,
                    "prompt_id": prompt[0],
                    "prompt_vid": prompt[1],
                    "context_required": prompt[2],
                    "manage_facts": int(manage) if request.kind == "message" else None,
                }
                for i in range(count)
            ]
            seqs = self._store.insert_blocks(cur, rows)
            if manage and request.kind == "fact":
                actor = self._fact_actor()
                for block_id, text in zip(block_ids, texts, strict=True):
                    change = (None, text)
                    self._store.add_fact_change(
                        cur, user_id, block_id, "add", change, None, actor, now
                    )
            for seq, windows in zip(seqs, vectors or [], strict=False):
                if len(windows) > 1:
                    self._store.set_chunks(cur, seq, further_windows(windows))
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
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        validation.check_id(block_id, "block_id", allow_percent=True)
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
        prompt_id: str | None = None,
        prompt_vid: int | None = None,
        context_required: bool | None = None,
    ) -> UpdateMemoryResponse:
        """Change a ready block's content, annotations, metadata, TTL or extraction prompt.

        New content is embedded (and, with a model, extracted) again. ``prompt_id`` switches
        the block's prompt (``"default"``: back to the base prompt) and, with a model,
        extracts it again under the new one."""
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        validation.check_id(block_id, "block_id", allow_percent=True)
        if (
            message is None
            and fact is None
            and annotations is None
            and (memory_block_ttl is None and metadata is None)
            and (prompt_id is None and context_required is None)
        ):
            raise ValidationError(
                "update_memory needs at least one of message, fact, annotations, "
                "memory_block_ttl, metadata, prompt_id or context_required"
            )
        if prompt_vid is not None and prompt_id in (None, "default"):
            raise ValidationError("prompt_vid needs a prompt_id (not 'default')")
        if message is not None and fact is not None:
            raise ValidationError("pass message or fact, not both: a block holds one of them")
        new_message = None if message is None else validation.to_message(message)
        new_fact = None if fact is None else validation.check_text(fact, "fact").strip()
        notes = None if annotations is None else validation.check_annotations(annotations)
        meta = validation.check_metadata(metadata)
        ttl = validation.check_ttl(memory_block_ttl, "memory_block_ttl")
        validation.check_bool(async_processing, "async_processing")
        new_text = (
            new_fact
            if new_fact is not None
            else (None if new_message is None else new_message.text)
        )
        limit = self.settings.per_block_token_limit
        if new_text is not None and validation.estimate_tokens(new_text) > limit:
            raise ValidationError(
                f"the new content is about {validation.estimate_tokens(new_text)} tokens, over the "
                f"per-block limit of {limit} (MEMORY_INTEGRATIONS_PER_BLOCK_TOKEN_LIMIT); "
                "shorten it or split it into several blocks"
            )
        now = self._now()
        with self.database.read() as cur:
            row = self._store.get_block(cur, user_id, session_id, block_id)
        self._check_updatable(row, user_id, session_id, block_id, now, new_fact, new_message)
        assert row is not None
        # The block's prompt after the update, and whether it is to be extracted again.
        choice = (row.prompt_id, row.prompt_vid, row.context_required)
        if prompt_id is not None or context_required is not None:
            same = prompt_id is None
            stored = None if row.context_required is None else bool(row.context_required)
            choice = self._prompt_choice(
                row.prompt_id if same else prompt_id,
                row.prompt_vid if same else prompt_vid,
                stored if context_required is None else context_required,
                check=not same,
            )
        final_notes = notes if notes is not None else stored_annotations(row.annotations)
        extract = self.extractor is not None and wants_extraction(choice[2], final_notes)
        again = extract and (new_text is not None or choice[:2] != (row.prompt_id, row.prompt_vid))
        text = new_text if new_text is not None else row.text
        vectors, extraction = None, None
        if again and not async_processing:
            extraction = stored_extraction(self._extract_now([text], *choice[:2])[0])
        if new_text is not None and not async_processing:
            vectors = self._embed([new_text])
        requeue = async_processing and (new_text is not None or again)
        if requeue and self._worker is not None:
            self._worker.reserve(1)
        with self.database.transaction() as cur:
            row = self._store.get_block(cur, user_id, session_id, block_id)
            self._check_updatable(row, user_id, session_id, block_id, now, new_fact, new_message)
            assert row is not None
            if new_text is not None:
                self._require_stored_embedder(cur)
            fields: dict[str, Any] = {"updated_at": now}
            fields.update(prompt_id=choice[0], prompt_vid=choice[1], context_required=choice[2])
            if new_text is not None or again:  # what was extracted no longer holds
                fields.update(summary=None, contexts=None)
            if extraction is not None:
                fields.update(summary=extraction[0], contexts=extraction[1])
            if notes is not None:
                fields["annotations"] = dumps(notes)
            if meta is not None:
                fields["metadata"] = dumps(meta)
            if ttl is not None:
                fields["expires_at"] = None if ttl == 0 else now + ttl * _US
            if new_fact is not None:
                fields["fact"] = new_fact
            if new_message is not None:
                fields.update(message_columns(new_message))
            reset = ttl is not None
            if new_text is not None:
                fields["text"] = new_text
                fields["fail_count"] = 0
                if vectors is not None:
                    fields["status"] = "ready"
                    fields["embedding"] = vectors[0][0].tobytes()
                else:
                    fields.update(status="processing", embedding=None, last_queued_at=now)
                self._store.set_chunks(
                    cur, row.seq, [] if vectors is None else further_windows(vectors[0])
                )
                reset = True
            elif (row.status == "extraction_failed" or again) and async_processing:
                # The guide's retry path for a permanently failed block, and a new prompt.
                fields.update(status="processing", fail_count=0, last_queued_at=now)
                reset = True
            elif extraction is not None:
                reset = True  # the keyword index holds summary and contexts
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
        validation.check_id(user_id, "user_id")
        validation.check_id(session_id, "session_id")
        ids: list[str] | None
        if block_ids == "all":
            ids = None
        elif isinstance(block_ids, str):
            ids = [validation.check_id(block_ids, "block_id", allow_percent=True)]
        else:
            ids = validation.check_id_list(block_ids, "block_ids", allow_percent=True)
        with self.database.transaction() as cur:
            self._require_session(cur, user_id, session_id)
            self._store.lock_users(cur, [user_id])
            deleted = self._store.delete_blocks(cur, user_id, session_id, ids)
            self._store.bump_index_version(cur, user_id, reset=True)
        return DeleteMemoryResponse(deleted_count=deleted if ids is None else len(ids))

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
