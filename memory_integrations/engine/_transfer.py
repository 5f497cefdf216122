"""Export and import of whole users as JSON Lines records, streamed.

One record per line, in dependency order: a ``header``, then per user a ``user`` record, its
``session`` records and its ``block`` records. Blocks carry their vector (base64 float32),
and a long block the vectors of its further windows (``chunk_embeddings``, a field older
exports lack); the header names the embedder, so an import into a store with the same embedder is
exact and needs no re-embedding; into a store with another embedder, blocks are re-queued.

An import is all-or-nothing: it runs in one transaction, checks every record as the API
checks its arguments (ids, sizes, types, JSON, times, owners) and refuses block or session
records of a user the file does not define, so it never writes into an existing user.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import validation
from ..embedders import Embedder
from ..errors import AgentMemoryError, ConflictError, ValidationError
from ..storage import EngineStore, SqlDatabase, dumps, from_us
from ._prompts import check_prompt_id

FORMAT = "memory-integrations/export-v1"
_PAGE = 500
_MAX_CHUNKS = 1024  # the largest max_chunks_per_block
_STATUSES = ("processing", "ready", "extraction_failed")
_USER_KEYS = {"type", "user_id", "name", "metadata", "created_at"}
_SESSION_KEYS = {
    "type",
    "user_id",
    "session_id",
    "start_time",
    "end_time",
    "annotations",
    "metadata",
    "blocks_ttl",
}
_BLOCK_KEYS = {
    "type",
    "block_id",
    "user_id",
    "session_id",
    "kind",
    "fact",
    "user_content",
    "assistant_content",
    "role",
    "content",
    "name",
    "text",
    "annotations",
    "metadata",
    "agent_id",
    "created_at",
    "ingested_at",
    "updated_at",
    "last_queued_at",
    "expires_at",
    "status",
    "fail_count",
    "embedding",
}


def export_records(
    store: EngineStore, database: SqlDatabase, embedder: Embedder, user_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the records of one user (or of every user), oldest first."""
    yield {"type": "header", "format": FORMAT, "embedder": embedder.name, "dim": embedder.dim}
    users: Iterable[str] = [user_id] if user_id is not None else _all_user_ids(store, database)
    for uid in users:
        with database.read() as cur:
            user = store.user_row(cur, uid)
            sessions = store.session_rows(cur, uid)
        if user is None:  # deleted while exporting
            continue
        yield {"type": "user", **user}
        for session in sessions:
            yield {"type": "session", **session}
        after = 0
        while True:
            with database.read() as cur:
                blocks = store.block_rows(cur, uid, after, _PAGE)
                chunks = store.chunks_of(cur, [b["seq"] for b in blocks])
            if not blocks:
                break
            for block in blocks:
                after = block.pop("seq")
                blob = block.pop("embedding")
                block["embedding"] = None if blob is None else _b64(blob)
                block["chunk_embeddings"] = [_b64(c) for c in chunks.get(after, [])]
                yield {"type": "block", **block}


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def _all_user_ids(store: EngineStore, database: SqlDatabase) -> Iterator[str]:
    after = ""
    while True:
        with database.read() as cur:
            page = store.user_ids(cur, after, _PAGE)
        if not page:
            return
        yield from page
        after = page[-1]


def count_records(database: SqlDatabase, user_id: str | None = None) -> int:
    """How many block records an export will hold (for progress bars)."""
    with database.read() as cur:
        if user_id is None:
            row = cur.execute("SELECT count(*) FROM mi_blocks").fetchone()
        else:
            row = cur.execute(
                "SELECT count(*) FROM mi_blocks WHERE user_id = ?", (user_id,)
            ).fetchone()
    return int(row[0])


@dataclass
class ImportResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {"users": 0, "sessions": 0, "blocks": 0, "requeued": 0}
    )
    queued: list[int] = field(default_factory=list)  # seqs to hand to the processing worker


def import_records(
    store: EngineStore,
    database: SqlDatabase,
    embedder: Embedder,
    records: Iterable[object],
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Insert exported records in one transaction; any bad record writes nothing at all."""
    reader = _RecordReader(embedder)
    result = ImportResult()
    with database.transaction() as cur:
        for number, record in enumerate(records, 1):
            try:
                kind, row = reader.read(record)
            except AgentMemoryError as exc:
                raise type(exc)(f"record {number}: {exc}") from None
            if kind == "user":
                if not store.insert_user_row(cur, row):
                    raise ConflictError(
                        f"record {number}: user {row['user_id']!r} already exists in the target "
                        "store; erase it first (memory-integrations erase) or import elsewhere"
                    )
            elif kind == "session":
                store.insert_session_row(cur, row)
            elif kind == "block":
                if store.block_id_exists(cur, row["block_id"]):
                    raise ConflictError(
                        f"record {number}: block {row['block_id']!r} already exists in the "
                        "target store; block ids are unique across the store"
                    )
                chunks = row.pop("chunks")
                (seq,) = store.insert_blocks(cur, [row])
                if chunks:
                    store.set_chunks(cur, seq, chunks)
                if row["status"] == "processing":
                    result.queued.append(seq)
            if kind != "header":
                result.counts[f"{kind}s"] += 1
            if progress is not None:
                progress(1)
        result.counts["requeued"] = reader.requeued
        for user_id in reader.users:
            store.bump_index_version(cur, user_id, reset=True)
    return result


class _RecordReader:
    """Checks one record at a time against the API's rules and what the file defined."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.same_embedder: bool | None = None  # unknown until the header
        self.users: list[str] = []
        self._sessions: set[tuple[str, str]] = set()
        self.requeued = 0

    def read(self, record: object) -> tuple[str, dict[str, Any]]:
        if not isinstance(record, Mapping):
            raise ValidationError(f"must be a JSON object, got {type(record).__name__}")
        kind = record.get("type")
        if self.same_embedder is None:
            if kind != "header" or record.get("format") != FORMAT:
                raise ValidationError(
                    f"a {FORMAT} file starts with its header record; this is not an export of "
                    "memory-integrations (write one with `memory-integrations export`)"
                )
            self.same_embedder = (
                record.get("embedder") == self.embedder.name
                and record.get("dim") == self.embedder.dim
            )
            return "header", {}
        if kind == "user":
            return kind, self._user(record)
        if kind == "session":
            return kind, self._session(record)
        if kind == "block":
            return kind, self._block(record)
        raise ValidationError(f"unknown record type {kind!r}: expected user, session or block")

    # --- records ------------------------------------------------------------------------

    def _user(self, record: Mapping[str, Any]) -> dict[str, Any]:
        _keys(record, _USER_KEYS, "user")
        user_id = validation.check_id(record["user_id"], "user_id")
        if user_id in self.users:
            raise ValidationError(f"user {user_id!r} is defined twice in the file")
        self.users.append(user_id)
        return {
            "user_id": user_id,
            "name": validation.check_text(record["name"], "name"),
            "metadata": _json_text(record["metadata"], "metadata", dict),
            "created_at": _time(record["created_at"], "created_at"),
        }

    def _session(self, record: Mapping[str, Any]) -> dict[str, Any]:
        _keys(record, _SESSION_KEYS, "session")
        user_id = self._owner(record)
        session_id = validation.check_id(record["session_id"], "session_id")
        if (user_id, session_id) in self._sessions:
            raise ValidationError(f"session {session_id!r} of {user_id!r} is defined twice")
        self._sessions.add((user_id, session_id))
        annotations = _json_text(record["annotations"], "annotations", dict)
        if annotations is not None:
            validation.check_annotations(json.loads(annotations))
        return {
            "user_id": user_id,
            "session_id": session_id,
            "start_time": _time(record["start_time"], "start_time"),
            "end_time": _time(record["end_time"], "end_time", optional=True),
            "annotations": annotations,
            "metadata": _json_text(record["metadata"], "metadata", dict),
            "blocks_ttl": validation.check_ttl(record["blocks_ttl"], "blocks_ttl"),
        }

    def _block(self, record: Mapping[str, Any]) -> dict[str, Any]:
        _keys(record, _BLOCK_KEYS, "block", optional=_OPTIONAL_BLOCK_KEYS)
        user_id = self._owner(record)
        session_id = validation.check_id(record["session_id"], "session_id")
        if (user_id, session_id) not in self._sessions:
            raise ValidationError(
                f"block of session {session_id!r} of {user_id!r}, which the file does not "
                "define: a session record must come before its blocks"
            )
        kind = record["kind"]
        if kind not in ("fact", "message"):
            raise ValidationError(f"kind must be 'fact' or 'message', got {kind!r}")
        row: dict[str, Any] = {
            "block_id": validation.check_id(record["block_id"], "block_id", allow_percent=True),
            "user_id": user_id,
            "session_id": session_id,
            "kind": kind,
            "text": validation.check_text(record["text"], "text", allow_empty=True),
            "annotations": _json_text(record["annotations"], "annotations", dict) or "{}",
            "metadata": _json_text(record["metadata"], "metadata", dict),
            "agent_id": None
            if record["agent_id"] is None
            else validation.check_id(record["agent_id"], "agent_id"),
            "created_at": _time(record["created_at"], "created_at", optional=True),
            "ingested_at": _time(record["ingested_at"], "ingested_at"),
            "updated_at": _time(record["updated_at"], "updated_at"),
            "last_queued_at": _time(record["last_queued_at"], "last_queued_at", optional=True),
            "expires_at": _time(record["expires_at"], "expires_at", optional=True),
            "fail_count": validation.check_int(record["fail_count"], "fail_count", 0, 1_000_000),
            "index_version": 0,
        }
        validation.check_annotations(json.loads(row["annotations"]))
        row.update(_content(record, kind))
        status = record["status"]
        if status not in _STATUSES:
            raise ValidationError(f"status must be one of {', '.join(_STATUSES)}, got {status!r}")
        embedding = self._embedding(record["embedding"])
        chunks = record.get("chunk_embeddings") or []
        if not isinstance(chunks, list):
            raise ValidationError(
                f"chunk_embeddings must be a list of base64 texts, got {type(chunks).__name__}"
            )
        if len(chunks) > _MAX_CHUNKS:
            raise ValidationError(
                f"chunk_embeddings holds {len(chunks)} vectors; a block has at most {_MAX_CHUNKS}"
            )
        vectors = [self._embedding(c) for c in chunks]
        if status == "ready" and embedding is None:
            status = "processing"
            self.requeued += 1
        row.update(
            status=status,
            embedding=embedding,
            chunks=[v for v in vectors if v is not None] if embedding is not None else [],
        )
        row.update(_extraction_columns(record))
        return row

    def _owner(self, record: Mapping[str, Any]) -> str:
        user_id = validation.check_id(record["user_id"], "user_id")
        if user_id not in self.users:
            raise ValidationError(
                f"record of user {user_id!r}, which the file does not define: a user record "
                "must come before its sessions and blocks (an import never writes into an "
                "existing user)"
            )
        return user_id

    def _embedding(self, encoded: object) -> bytes | None:
        if encoded is None:
            return None
        if not isinstance(encoded, str):
            raise ValidationError(f"embedding must be base64 text, got {type(encoded).__name__}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("embedding is not valid base64") from None
        if not self.same_embedder:
            return None  # re-embedded with this store's embedder
        if len(raw) != 4 * self.embedder.dim:
            raise ValidationError(
                f"embedding has {len(raw)} bytes; {self.embedder.name} vectors have "
                f"{4 * self.embedder.dim}"
            )
        return raw


# Fields of exports written since extraction (schema step 5) and managed facts (step 6).
_OPTIONAL_BLOCK_KEYS = {
    "chunk_embeddings",
    "summary",
    "contexts",
    "prompt_id",
    "prompt_vid",
    "context_required",
    "manage_facts",
    "source_block_id",
}


def _extraction_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """The extraction and fact-management columns of a block record, checked."""

    def flag(name: str) -> int | None:
        value = record.get(name)
        if value is None:
            return None
        return int(validation.check_bool(bool(value) if value in (0, 1) else value, name))

    prompt_id = record.get("prompt_id")
    source = record.get("source_block_id")
    vid = record.get("prompt_vid")
    return {
        "summary": validation.check_optional_text(record.get("summary"), "summary"),
        "contexts": _contexts(record.get("contexts")),
        "prompt_id": None if prompt_id is None else check_prompt_id(prompt_id),
        "prompt_vid": None if vid is None else validation.check_int(vid, "prompt_vid", 0, 2**31),
        "context_required": flag("context_required"),
        "manage_facts": flag("manage_facts"),
        "source_block_id": None
        if source is None
        else validation.check_id(source, "source_block_id", allow_percent=True),
    }


def _contexts(value: object) -> str | None:
    """Stored contexts: JSON text of a list of short strings (or None)."""
    if value is None:
        return None
    text = validation.check_text(value, "contexts", allow_empty=True)
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationError("contexts is not valid JSON text") from None
    if not isinstance(decoded, list) or not all(isinstance(c, str) for c in decoded):
        raise ValidationError("contexts must hold a JSON list of strings")
    return dumps(decoded)


def _keys(
    record: Mapping[str, Any],
    expected: set[str],
    kind: str,
    optional: frozenset[str] | set[str] = frozenset(),
) -> None:
    missing = sorted(expected - record.keys())
    unknown = sorted(str(k) for k in record.keys() - expected - optional)
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}" if missing else ""]
        parts.append(f"unknown {', '.join(unknown)}" if unknown else "")
        raise ValidationError(
            f"{kind} record has {' and '.join(p for p in parts if p)} fields; was it written "
            "by another version? Export it again with this one"
        )


def _time(value: object, what: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    micros = validation.check_int(value, f"{what} (epoch microseconds)", -(2**62), 2**62)
    moment = from_us(micros)
    assert moment is not None
    validation.check_datetime(moment, what)
    if from_us(micros - 1) == moment:  # clamped: outside years 1-9999
        raise ValidationError(f"{what} {micros} lies outside years 1-9999")
    return micros


def _json_text(value: object, what: str, shape: type) -> str | None:
    """Stored JSON text that decodes to ``shape`` (or None)."""
    if value is None:
        return None
    text = validation.check_text(value, what, allow_empty=True)
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationError(f"{what} is not valid JSON text") from None
    if not isinstance(decoded, shape):
        raise ValidationError(f"{what} must hold a JSON {shape.__name__}")
    return dumps(validation.check_metadata(decoded, what))


def _content(record: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The fact or message columns, consistent with the block's kind."""
    if kind == "fact":
        fact = validation.check_text(record["fact"], "fact", allow_empty=True)
        return {
            "fact": fact,
            "user_content": None,
            "assistant_content": None,
            "role": None,
            "content": None,
            "name": None,
        }
    fields = {
        "role": record["role"],
        "user_content": record["user_content"],
        "assistant_content": record["assistant_content"],
        "content": record["content"],
        "name": record["name"],
    }
    message = validation.to_message({k: val for k, val in fields.items() if val is not None})
    return {"fact": None, **fields, "role": None if message.role is None else message.role.value}
