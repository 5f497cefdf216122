"""``AgentMemorySaver``: a LangGraph checkpointer kept in the memory engine's SQL database.

Layout (migration component ``langgraph_checkpoints``, four tables):

* ``langgraph_threads``: one row per thread with ``last_access``, ``ttl_seconds`` and
  ``expires_at``; a thread past ``expires_at`` is invisible to every read.
* ``langgraph_checkpoints``: one row per checkpoint, serialized with ``self.serde`` *without*
  its large channel values; small scalars (numbers, short strings, ``None``) stay inline.
  Metadata is JSON text so ``list(filter=...)`` runs in SQL.
* ``langgraph_checkpoint_blobs``: one row per (thread, namespace, channel, version). A step
  writes only the channels named in ``new_versions``; unchanged channels are read from the
  version an older checkpoint wrote.
* ``langgraph_checkpoint_writes``: pending writes with ``task_path`` and ``idx``.

Append deltas: a channel whose value is a list that grew by appending (a message history,
the usual case) is stored as the msgpack bytes of the new elements only, pointing at the
version it extends (``base_version``); a full copy is written every ``_MAX_DEPTH`` versions.
Reading concatenates the bytes back, so the value handed to ``serde.loads_typed`` is
byte-for-byte what a full write would have stored. This keeps a long thread's file size
linear instead of quadratic in its length.

The SQL is written once with portable ``?`` placeholders (``SqlDatabase`` implementations
translate them); what differs by dialect (binary column type, JSON field access) lives in
``_DIALECTS``.

On PostgreSQL every round trip counts, so ``put``, ``put_writes`` and ``get_tuple`` are one
statement each, run on the pool's autocommit connection (``_pg_write``): the thread is
opened inside the write with data-modifying CTEs rather than read first, a delta row is
written only while its base is still stored as this process remembers it, and the
checkpoint only if every delta row was written. A write into an expired thread is repeated
in a transaction that purges the thread first. On SQLite (no network) the same work is a
few plain statements in one ``db.transaction()``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import inspect
import json
import logging
import math
import random
import threading
import time
import uuid
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..errors import ConfigurationError, NotFoundError, ValidationError
from ..storage import Cursor, SqlDatabase, database_of
from ..validation import check_id, check_int
from ._owner import run_user_id

__all__ = [
    "COMPONENT",
    "MIGRATIONS",
    "AgentMemorySaver",
    "adelete_thread_and_session",
    "delete_thread_and_session",
    "migrations_for",
]

logger = logging.getLogger(__name__)

COMPONENT = "langgraph_checkpoints"

_THREADS = "langgraph_threads"
_CHECKPOINTS = "langgraph_checkpoints"
_BLOBS = "langgraph_checkpoint_blobs"
_WRITES = "langgraph_checkpoint_writes"

# Ordered migration scripts; ``{blob}`` is the dialect's binary column type. Large binary
# columns come last in each table so SQLite reads the small ones without walking overflow
# pages.
MIGRATIONS: list[str] = [
    """
CREATE TABLE IF NOT EXISTS langgraph_threads (
    thread_id TEXT PRIMARY KEY,
    last_access DOUBLE PRECISION NOT NULL,
    ttl_seconds DOUBLE PRECISION,
    expires_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS langgraph_threads_expires_at
    ON langgraph_threads (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS langgraph_checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    run_id TEXT,
    metadata TEXT NOT NULL,
    metadata_type TEXT,
    type TEXT NOT NULL,
    checkpoint {blob} NOT NULL,
    metadata_blob {blob},
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE INDEX IF NOT EXISTS langgraph_checkpoints_run_id
    ON langgraph_checkpoints (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS langgraph_checkpoint_blobs (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    base_version TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    checksum BIGINT,
    type TEXT NOT NULL,
    blob {blob},
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
);
CREATE TABLE IF NOT EXISTS langgraph_checkpoint_writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    type TEXT NOT NULL,
    blob {blob},
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
""",
    # v2: a thread's generation, new each time the thread row is created. Cached channel
    # values are keyed by it, so a thread deleted and written again by another process
    # (possibly with the same channel versions) is never answered from a stale cache.
    # The thread's owner: the user id of the run that created it (see ``_owner``), which
    # ``erase`` relies on.
    """
ALTER TABLE langgraph_threads ADD COLUMN generation TEXT;
ALTER TABLE langgraph_threads ADD COLUMN owner TEXT;
CREATE INDEX langgraph_threads_owner ON langgraph_threads (owner) WHERE owner IS NOT NULL;
""",
]

# Scalars this short are kept inside the checkpoint row instead of a blob row of their own.
_INLINE_STR_MAX = 512
_EMPTY = "empty"  # type tag of a blob row for a channel that has no value at that version
_MSGPACK = "msgpack"
_DELTA_MIN_BODY = 2048  # lists smaller than this (serialized) are always written whole
_MAX_DEPTH = 32  # a full copy at least every 33 versions bounds the rows read per value
_TAIL_CACHE = 256  # (thread, ns, channel) whose last list bytes are kept for deltas
_TAIL_MAX_BYTES = 16 * 1024 * 1024
# Assembled channel values by (thread, ns, channel, version, thread generation). A version
# string is written once per thread life (get_next_version adds a random suffix), and a
# thread deleted and created again gets a new generation, so a cached value never goes
# stale, whichever process changed the thread.
_BLOB_CACHE_BYTES = 64 * 1024 * 1024
_PAGE = 100  # checkpoints hydrated per read transaction in ``list``
_CHUNK = 250  # keys per ``IN`` / ``VALUES`` batch
_ROWS_PER_INSERT = 100  # rows per multi-row INSERT (9 parameters each: < 999)
_PG_MAX_PARAMS = 30_000  # larger PostgreSQL writes take the multi-statement path
_THREAD_HINTS = 4096  # threads whose last known clock is kept (``_pg_write``)
_SWEEP_BATCH = 200  # threads purged per sweep transaction


# --- dialects -----------------------------------------------------------------------------


def _sqlite_metadata_predicate(key: str, value: Any) -> tuple[str, list[Any]] | None:
    if '"' in key or "\\" in key:
        return None  # not expressible as a quoted JSON path label: filter in Python
    path = f'$."{key}"'
    if value is None:
        return "json_extract(c.metadata, ?) IS NULL", [path]
    if isinstance(value, bool):
        return "json_extract(c.metadata, ?) = ?", [path, int(value)]
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return None  # beyond SQLite's integers: compared in Python
    if isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value)):
        return "json_extract(c.metadata, ?) = ?", [path, value]
    return None


def _postgres_metadata_predicate(key: str, value: Any) -> tuple[str, list[Any]] | None:
    field = "(CAST(c.metadata AS jsonb) -> ?)"
    if value is None:
        return f"COALESCE({field}, 'null'::jsonb) = 'null'::jsonb", [key]
    if isinstance(value, str | int | bool) or (isinstance(value, float) and math.isfinite(value)):
        return f"{field} = CAST(? AS jsonb)", [key, json.dumps(value)]
    return None


@dataclass(frozen=True)
class _Dialect:
    blob_type: str
    # (key, value) -> SQL predicate on ``c.metadata`` plus its parameters, or None when the
    # comparison must happen in Python.
    metadata_predicate: Callable[[str, Any], tuple[str, list[Any]] | None]


_DIALECTS: dict[str, _Dialect] = {
    "sqlite": _Dialect("BLOB", _sqlite_metadata_predicate),
    "postgres": _Dialect("BYTEA", _postgres_metadata_predicate),
}


def migrations_for(dialect: str) -> list[str]:
    """The migration scripts rendered for ``dialect`` (``"sqlite"`` or ``"postgres"``)."""
    blob = _DIALECTS[dialect].blob_type
    return [script.replace("{blob}", blob) for script in MIGRATIONS]


# --- SQL ----------------------------------------------------------------------------------

_CP_COLS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, metadata, "
    "metadata_type, type, checkpoint, metadata_blob"
)
_BLOB_COLS = "thread_id, checkpoint_ns, channel, version, base_version, depth, checksum, type, blob"
_WRITE_COLS = (
    "thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, blob"
)
_BLOB_CONFLICT = (
    "ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO UPDATE SET "
    "base_version = excluded.base_version, depth = excluded.depth, "
    "checksum = excluded.checksum, type = excluded.type, blob = excluded.blob"
)
_CHECKPOINT_CONFLICT = (
    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
    "parent_checkpoint_id = excluded.parent_checkpoint_id, run_id = excluded.run_id, "
    "metadata = excluded.metadata, metadata_type = excluded.metadata_type, "
    "type = excluded.type, checkpoint = excluded.checkpoint, "
    "metadata_blob = excluded.metadata_blob"
)
_WRITE_KEY = "(thread_id, checkpoint_ns, checkpoint_id, task_id, idx)"
_WRITE_UPDATE = (
    "DO UPDATE SET task_path = excluded.task_path, channel = excluded.channel, "
    "type = excluded.type, blob = excluded.blob"
)
# How far a thread's clock must move before a write updates its row (seconds).
_TOUCH_STEP = (
    "CASE WHEN ttl_seconds IS NOT NULL AND ttl_seconds < 100 THEN ttl_seconds / 100.0 ELSE 1.0 END"
)
_SQL_TEXT: dict[str, str] = {
    "thread_state": (
        "SELECT expires_at, ttl_seconds, last_access, COALESCE(generation, ''), owner "
        f"FROM {_THREADS} WHERE thread_id = ?"
    ),
    # Parameters: thread_id, now, ttl, expires_at, the generation of a new thread row, owner.
    "touch_thread": (
        f"INSERT INTO {_THREADS} (thread_id, last_access, ttl_seconds, expires_at, generation, "
        "owner) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
        f"owner = COALESCE({_THREADS}.owner, excluded.owner), "
        "last_access = excluded.last_access, "
        f"ttl_seconds = COALESCE(excluded.ttl_seconds, {_THREADS}.ttl_seconds), "
        "expires_at = excluded.last_access + "
        f"COALESCE(excluded.ttl_seconds, {_THREADS}.ttl_seconds)"
    ),
    "refresh_thread": (
        f"UPDATE {_THREADS} SET last_access = ?, expires_at = ? + ttl_seconds "
        "WHERE thread_id = ? AND ttl_seconds IS NOT NULL "
        "AND (expires_at IS NULL OR expires_at > ?)"
    ),
    # PostgreSQL only: the CTEs that open a thread inside a write statement (``_pg_write``).
    # ``state`` reads the thread row as it was before the statement; ``new_thread`` creates
    # a missing thread; ``touch_*`` moves a live thread's clock as ``_open_thread`` would.
    # Neither locks the thread row when nothing changes.
    "pg_thread_state": (
        f"state AS (SELECT expires_at, ttl_seconds, last_access, generation FROM {_THREADS} "
        "WHERE thread_id = ?)"
    ),
    # Parameters: thread_id, now, ttl, expires_at, generation, owner.
    "pg_new_thread": (
        f"new_thread AS (INSERT INTO {_THREADS} (thread_id, last_access, ttl_seconds, "
        "expires_at, generation, owner) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (thread_id) DO NOTHING)"
    ),
    # Parameters: now, now, thread_id, now, now. A saver without ``ttl`` keeps the stored one.
    "pg_touch_keep_ttl": (
        f"touch AS (UPDATE {_THREADS} SET last_access = ?, expires_at = ? + ttl_seconds "
        "WHERE thread_id = ? AND (expires_at IS NULL OR expires_at > ?) "
        f"AND ? - last_access >= {_TOUCH_STEP})"
    ),
    # Parameters: now, ttl, expires_at, thread_id, now, ttl, now.
    "pg_touch_set_ttl": (
        f"touch AS (UPDATE {_THREADS} SET last_access = ?, ttl_seconds = ?, expires_at = ? "
        "WHERE thread_id = ? AND (expires_at IS NULL OR expires_at > ?) "
        f"AND (ttl_seconds IS NULL OR ttl_seconds <> ? OR ? - last_access >= {_TOUCH_STEP}))"
    ),
    "blob_state": (
        f"SELECT depth, checksum FROM {_BLOBS} "
        "WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?"
    ),
    "upsert_blob": (
        f"INSERT INTO {_BLOBS} ({_BLOB_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) {_BLOB_CONFLICT}"
    ),
    "upsert_checkpoint": (
        f"INSERT INTO {_CHECKPOINTS} ({_CP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"{_CHECKPOINT_CONFLICT}"
    ),
    "insert_write": (
        f"INSERT INTO {_WRITES} ({_WRITE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"ON CONFLICT {_WRITE_KEY} DO NOTHING"
    ),
    "upsert_write": (
        f"INSERT INTO {_WRITES} ({_WRITE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"ON CONFLICT {_WRITE_KEY} {_WRITE_UPDATE}"
    ),
    "delete_thread_writes": f"DELETE FROM {_WRITES} WHERE thread_id = ?",
    "delete_thread_blobs": f"DELETE FROM {_BLOBS} WHERE thread_id = ?",
    "delete_thread_checkpoints": f"DELETE FROM {_CHECKPOINTS} WHERE thread_id = ?",
    "delete_thread_row": f"DELETE FROM {_THREADS} WHERE thread_id = ?",
    "expired_threads": (
        f"SELECT thread_id FROM {_THREADS} WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?"
    ),
    "copy_checkpoints": (
        f"INSERT INTO {_CHECKPOINTS} ({_CP_COLS}) SELECT CAST(? AS TEXT), checkpoint_ns, "
        "checkpoint_id, parent_checkpoint_id, run_id, metadata, metadata_type, type, "
        f"checkpoint, metadata_blob FROM {_CHECKPOINTS} WHERE thread_id = ? "
        "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO NOTHING"
    ),
    "copy_blobs": (
        f"INSERT INTO {_BLOBS} ({_BLOB_COLS}) SELECT CAST(? AS TEXT), checkpoint_ns, channel, "
        f"version, base_version, depth, checksum, type, blob FROM {_BLOBS} WHERE thread_id = ? "
        "ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING"
    ),
    "copy_writes": (
        f"INSERT INTO {_WRITES} ({_WRITE_COLS}) SELECT CAST(? AS TEXT), checkpoint_ns, "
        "checkpoint_id, task_id, idx, task_path, channel, type, blob "
        f"FROM {_WRITES} WHERE thread_id = ? "
        "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING"
    ),
    "count_checkpoints": f"SELECT COUNT(*) FROM {_CHECKPOINTS} WHERE thread_id = ?",
    "latest_per_ns": (
        f"SELECT c.checkpoint_ns, c.metadata FROM {_CHECKPOINTS} c WHERE c.thread_id = ? "
        f"AND c.checkpoint_id = (SELECT MAX(c2.checkpoint_id) FROM {_CHECKPOINTS} c2 "
        "WHERE c2.thread_id = c.thread_id AND c2.checkpoint_ns = c.checkpoint_ns)"
    ),
    "delete_older": (
        f"DELETE FROM {_CHECKPOINTS} WHERE thread_id = ? AND checkpoint_id < "
        f"(SELECT MAX(c2.checkpoint_id) FROM {_CHECKPOINTS} c2 "
        f"WHERE c2.thread_id = {_CHECKPOINTS}.thread_id "
        f"AND c2.checkpoint_ns = {_CHECKPOINTS}.checkpoint_ns)"
    ),
    "delete_orphan_writes": (
        f"DELETE FROM {_WRITES} WHERE thread_id = ? AND NOT EXISTS "
        f"(SELECT 1 FROM {_CHECKPOINTS} c WHERE c.thread_id = {_WRITES}.thread_id "
        f"AND c.checkpoint_ns = {_WRITES}.checkpoint_ns "
        f"AND c.checkpoint_id = {_WRITES}.checkpoint_id)"
    ),
    "ns_checkpoints": (
        f"SELECT type, checkpoint FROM {_CHECKPOINTS} WHERE thread_id = ? AND checkpoint_ns = ?"
    ),
    "ns_blob_keys": (
        f"SELECT channel, version, base_version FROM {_BLOBS} "
        "WHERE thread_id = ? AND checkpoint_ns = ?"
    ),
    "delete_blob": (
        f"DELETE FROM {_BLOBS} WHERE thread_id = ? AND checkpoint_ns = ? "
        "AND channel = ? AND version = ?"
    ),
}


class _Statements:
    """The statements above as attributes, plus builders for variable-size SQL."""

    thread_state: str
    touch_thread: str
    refresh_thread: str
    pg_thread_state: str
    pg_new_thread: str
    pg_touch_keep_ttl: str
    pg_touch_set_ttl: str
    blob_state: str
    upsert_blob: str
    upsert_checkpoint: str
    insert_write: str
    upsert_write: str
    delete_thread_writes: str
    delete_thread_blobs: str
    delete_thread_checkpoints: str
    delete_thread_row: str
    expired_threads: str
    copy_checkpoints: str
    copy_blobs: str
    copy_writes: str
    count_checkpoints: str
    latest_per_ns: str
    delete_older: str
    delete_orphan_writes: str
    ns_checkpoints: str
    ns_blob_keys: str
    delete_blob: str

    def __init__(self, blob_type: str) -> None:
        names = set(_Statements.__annotations__)
        if names != set(_SQL_TEXT):  # pragma: no cover - guards edits of this module
            raise RuntimeError(f"statement names out of sync: {sorted(names ^ set(_SQL_TEXT))}")
        for name, text in _SQL_TEXT.items():
            setattr(self, name, text)
        self._blob_type = blob_type
        # An append-delta row, inserted only while its base row is still the exact one
        # this process remembers (same depth and checksum). Parameters: version, depth,
        # checksum, type, blob, then thread_id, checkpoint_ns, channel, base version, base
        # depth, base checksum. The casts type the parameters on PostgreSQL.
        self.delta_blob = (
            f"INSERT INTO {_BLOBS} ({_BLOB_COLS}) SELECT b.thread_id, b.checkpoint_ns, "
            "b.channel, CAST(? AS TEXT), b.version, CAST(? AS INTEGER), CAST(? AS BIGINT), "
            f"CAST(? AS TEXT), CAST(? AS {blob_type}) FROM {_BLOBS} b "
            "WHERE b.thread_id = ? AND b.checkpoint_ns = ? AND b.channel = ? "
            f"AND b.version = ? AND b.depth = ? AND b.checksum = ? {_BLOB_CONFLICT}"
        )

    def insert_blobs(self, n: int) -> str:
        rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * n)
        return f"INSERT INTO {_BLOBS} ({_BLOB_COLS}) VALUES {rows} {_BLOB_CONFLICT}"

    def checkpoint_if(self, condition: str) -> str:
        """The checkpoint upsert, done only if ``condition`` holds (its parameters follow
        the checkpoint's)."""
        text, blob = "CAST(? AS TEXT)", f"CAST(? AS {self._blob_type})"
        return (
            f"INSERT INTO {_CHECKPOINTS} ({_CP_COLS}) SELECT {', '.join([text] * 8)}, "
            f"{blob}, {blob} WHERE {condition} {_CHECKPOINT_CONFLICT}"
        )

    def insert_writes(self, n: int, upsert: bool) -> str:
        rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * n)
        conflict = _WRITE_UPDATE if upsert else "DO NOTHING"
        return (
            f"INSERT INTO {_WRITES} ({_WRITE_COLS}) VALUES {rows} "
            f"ON CONFLICT {_WRITE_KEY} {conflict}"
        )

    def select_checkpoints(
        self, where: Sequence[str], single_scope: bool, limit: int, with_writes: bool = False
    ) -> str:
        """Checkpoint rows, newest first. The limit is a literal: as a parameter it keeps
        PostgreSQL from ever reusing a generic plan for the statement. ``with_writes``
        appends each checkpoint's pending writes (task_id, task_path, idx, channel, type,
        blob; NULL when it has none), one row per write, in the same statement."""
        order = "c.checkpoint_id DESC"
        if not single_scope:
            order += ", c.thread_id DESC, c.checkpoint_ns DESC"
        conditions = " AND ".join(["(t.expires_at IS NULL OR t.expires_at > ?)", *where])
        select = (
            "SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, "
            "c.metadata, c.metadata_type, t.last_access, t.ttl_seconds, c.type, c.checkpoint, "
            f"c.metadata_blob, COALESCE(t.generation, '') FROM {_CHECKPOINTS} c "
            f"LEFT JOIN {_THREADS} t ON t.thread_id = c.thread_id "
            f"WHERE {conditions} ORDER BY {order} LIMIT {int(limit)}"
        )
        if not with_writes:
            return select
        return (
            "SELECT s.*, w.task_id, w.task_path, w.idx, w.channel, w.type, w.blob "
            f"FROM ({select}) s LEFT JOIN {_WRITES} w ON w.thread_id = s.thread_id "
            "AND w.checkpoint_ns = s.checkpoint_ns AND w.checkpoint_id = s.checkpoint_id "
            f"ORDER BY s.checkpoint_id DESC"
            + ("" if single_scope else ", s.thread_id DESC, s.checkpoint_ns DESC")
        )

    def run_ids(self, n: int) -> tuple[str, str, str]:
        marks = ", ".join("?" * n)
        return (
            (
                f"SELECT DISTINCT thread_id, checkpoint_ns FROM {_CHECKPOINTS} "
                f"WHERE run_id IN ({marks})"
            ),
            (
                f"DELETE FROM {_WRITES} WHERE (thread_id, checkpoint_ns, checkpoint_id) IN "
                f"(SELECT thread_id, checkpoint_ns, checkpoint_id FROM {_CHECKPOINTS} "
                f"WHERE run_id IN ({marks}))"
            ),
            (f"DELETE FROM {_CHECKPOINTS} WHERE run_id IN ({marks})"),
        )

    def blobs(self, n: int) -> str:
        # Parameters: n (channel, version) pairs, then (thread_id, checkpoint_ns) twice. The
        # recursive part follows append-delta rows to their bases. CROSS JOIN makes SQLite
        # probe the primary key once per key instead of scanning the thread (on PostgreSQL
        # it is an ordinary join).
        values = ", ".join(["(?, ?)"] * n)
        return (
            f"WITH RECURSIVE k (channel, version) AS (VALUES {values} "
            f"UNION SELECT b.channel, b.base_version FROM k CROSS JOIN {_BLOBS} b "
            "WHERE b.thread_id = ? AND b.checkpoint_ns = ? AND b.channel = k.channel "
            "AND b.version = k.version AND b.base_version IS NOT NULL) "
            "SELECT b.channel, b.version, b.base_version, b.depth, b.checksum, b.type, b.blob "
            f"FROM k CROSS JOIN {_BLOBS} b WHERE b.thread_id = ? AND b.checkpoint_ns = ? "
            "AND b.channel = k.channel AND b.version = k.version"
        )

    def writes(self, n: int) -> str:
        marks = ", ".join("?" * n)
        return (
            "SELECT checkpoint_id, task_id, task_path, idx, channel, type, blob "
            f"FROM {_WRITES} "
            f"WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN ({marks})"
        )


# --- helpers ------------------------------------------------------------------------------


def _is_inline(value: Any) -> bool:
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float:
        return True
    return kind is str and len(value) <= _INLINE_STR_MAX


def _coerce_json(value: Any) -> Any:
    """A JSON-safe stand-in for ``value`` (used only for filtering lossy metadata)."""
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _coerce_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_coerce_json(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value).replace("\x00", "")


def _bytes(data: Any) -> bytes:
    """Binary column value as bytes (drivers may return memoryview)."""
    if data is None:
        return b""
    return data if isinstance(data, bytes) else bytes(data)


def _array_header(data: bytes) -> int:
    """Length of the msgpack array header ``data`` starts with, or 0 if it is no array."""
    if not data:
        return 0
    first = data[0]
    if 0x90 <= first <= 0x9F:
        return 1
    if first == 0xDC:
        return 3
    if first == 0xDD:
        return 5
    return 0


_MAX_ID = 1024
_MAX_SECONDS = 100 * 365 * 86_400.0


def _check_seconds(value: object, what: str) -> None:
    """A positive, finite number of seconds (at most 100 years), or None."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= _MAX_SECONDS
    ):
        raise ConfigurationError(
            f"{what} must be a positive number of seconds (at most 100 years) or None, "
            f"not {value!r}"
        )


def _check_saver_text(
    value: object, what: str, *, allow_empty: bool = False, default: str | None = None
) -> str:
    """A thread id, namespace, checkpoint or task id: text (an int is taken as its digits)
    that UTF-8 can encode, without NUL, at most 1024 characters."""
    if value is None and default is not None:
        return default
    if (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, uuid.UUID):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(f"{what} must not be blank")
    if len(value) > _MAX_ID or "\x00" in value:
        raise ValidationError(f"{what} must be at most {_MAX_ID} characters, without NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} holds a lone surrogate; pass valid text") from None
    return value


def _scope_of(config: object, *, need_thread: bool = True) -> tuple[str, str, str | None]:
    """(thread_id, checkpoint_ns, checkpoint_id or None) of a config, checked."""
    configurable = config.get("configurable") if isinstance(config, Mapping) else None
    if not isinstance(configurable, Mapping):
        raise ValidationError(
            'a checkpointer config is {"configurable": {"thread_id": ...}}, got '
            f"{type(config).__name__}"
        )
    thread = configurable.get("thread_id")
    if thread is None and need_thread:
        raise ValidationError('the config needs configurable["thread_id"]')
    thread_id = "" if thread is None else _check_saver_text(thread, "thread_id")
    ns = _check_saver_text(
        configurable.get("checkpoint_ns"), "checkpoint_ns", allow_empty=True, default=""
    )
    checkpoint_id = get_checkpoint_id(cast(RunnableConfig, config))
    if checkpoint_id is not None:
        checkpoint_id = _check_saver_text(checkpoint_id, "checkpoint_id")
    return thread_id, ns, checkpoint_id


def _new_generation() -> str:
    return uuid.uuid4().hex


def _parent_config(thread_id: str, ns: str, parent_id: str | None) -> RunnableConfig | None:
    if not parent_id:
        return None
    return {
        "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent_id}
    }


@dataclass(frozen=True)
class _Tail:
    """The last list value this process wrote or read for a (thread, ns, channel)."""

    version: str
    body: bytes  # msgpack elements after the array header
    depth: int
    checksum: int  # crc32 of ``body``


@dataclass(frozen=True)
class _BlobWrite:
    """One channel version a ``put`` stores: a whole value or an append delta."""

    channel: str
    version: str
    row: tuple[Any, ...]  # the blob row (``_BLOB_COLS`` order)
    full: tuple[str, bytes] | None  # the whole serialised value; None for an empty channel
    tail: _Tail | None = None  # what to remember for the next delta
    base: _Tail | None = None  # a delta: the remembered version it extends
    whole: _BlobWrite | None = None  # a delta: what to store if that base changed


@dataclass
class _Row:
    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: CheckpointMetadata
    needed: list[tuple[str, str]]  # (channel, version) to read from the blobs table
    last_access: float | None
    ttl_seconds: float | None
    generation: str


# (thread_id, checkpoint_ns, channel, version, thread generation) of a cached value
_BlobKey = tuple[str, str, str, str, str]
# (channel, version) -> (base_version, depth, checksum, type, blob) of one blob row
_BlobRows = dict[tuple[str, str], tuple[str | None, int, int | None, str, bytes]]


class _BrokenChainError(RuntimeError):
    pass


# --- the saver ----------------------------------------------------------------------------


class AgentMemorySaver(BaseCheckpointSaver[str]):
    """LangGraph checkpointer stored in the engine's SQL database (SQLite or PostgreSQL).

    ``client_or_db`` is an ``AgentMemoryClient`` / ``AsyncAgentMemoryClient`` with an
    embedded backend (the checkpoints then live in the same file as the agent memory, in
    their own tables), an ``SqlDatabase``, or a SQLite path / ``postgresql://`` URL (then
    the saver opens the database itself and ``close()`` closes it).

    ``ttl`` (seconds) expires a whole thread after that long without activity: an expired
    thread disappears from every read at once, and ``sweep_expired()`` (or the background
    sweeper started by ``sweep_interval``) deletes its rows. Writes always refresh the
    thread's clock; reads do too while ``refresh_on_read`` is true. ``clock`` returns epoch
    seconds and exists for tests.

    All ``a*`` methods run the same synchronous code in a worker thread. ``close()`` stops
    the sweeper; the database is shared and stays open.
    """

    def __init__(
        self,
        client_or_db: Any,
        *,
        serde: SerializerProtocol | None = None,
        ttl: float | None = None,
        refresh_on_read: bool = True,
        sweep_interval: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(serde=serde)
        _check_seconds(ttl, "ttl")
        _check_seconds(sweep_interval, "sweep_interval")
        db, owned = database_of(client_or_db, "AgentMemorySaver")
        self._owned: SqlDatabase | None = db if owned else None
        if db.dialect not in _DIALECTS:
            raise ConfigurationError(f"unsupported SQL dialect {db.dialect!r}")
        self.db = db
        self.ttl = float(ttl) if ttl is not None else None
        self.refresh_on_read = refresh_on_read
        self.sweep_interval = sweep_interval
        self._clock = clock
        self._dialect = _DIALECTS[db.dialect]
        self._sql = _Statements(self._dialect.blob_type)
        # On PostgreSQL a put or put_writes is one statement: see ``_pg_write``.
        self._postgres = db.dialect == "postgres"
        try:
            self.schema_version = db.migrate(COMPONENT, migrations_for(db.dialect))
        except BaseException:
            if self._owned is not None:
                self._owned.close()
            raise
        self._tails: OrderedDict[tuple[str, str, str], _Tail] = OrderedDict()
        self._tails_lock = threading.Lock()
        self._blobs: OrderedDict[_BlobKey, tuple[str, bytes] | None] = OrderedDict()
        self._blob_bytes = 0
        # thread_id -> (last_access, ttl_seconds) its row had after this process's last
        # PostgreSQL write: a hint only, checked by every write (see ``_pg_write``).
        self._thread_hints: OrderedDict[str, tuple[float, float | None]] = OrderedDict()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        if sweep_interval is not None:
            self._sweeper = threading.Thread(
                target=self._sweep_loop, name="AgentMemorySaver-sweeper", daemon=True
            )
            self._sweeper.start()

    # --- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the background sweeper; close the database if this saver opened it (from a
        path or URL), else leave the shared database open."""
        self._stop.set()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join()
        self._sweeper = None
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> AgentMemorySaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> AgentMemorySaver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)

    def _sweep_loop(self) -> None:
        assert self.sweep_interval is not None
        while not self._stop.wait(self.sweep_interval):
            try:
                self.sweep_expired()
            except Exception:  # keep sweeping: a busy database is usually transient
                logger.exception("sweeping expired LangGraph threads failed")

    # --- reads ----------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names, or the thread's latest one; None if absent."""
        thread_id, ns, checkpoint_id = _scope_of(config)
        where = ["c.thread_id = ?", "c.checkpoint_ns = ?"]
        params: list[Any] = [thread_id, ns]
        if checkpoint_id:
            where.append("c.checkpoint_id = ?")
            params.append(checkpoint_id)
        rows, tuples = self._fetch_page(where, params, 1, single_scope=True, seed=True)
        self._refresh(rows)
        return tuples[0] if tuples else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints matching ``config`` / ``filter`` / ``before``, newest first."""
        for page in self._pages(config, filter, before, limit):
            yield from page

    def _pages(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Iterator[builtins.list[CheckpointTuple]]:
        """``list`` in pages; each page is read in its own short read transaction."""
        where: list[str] = []
        params: list[Any] = []
        single_scope = False
        if config is not None:
            thread_id, ns, checkpoint_id = _scope_of(config)
            where.append("c.thread_id = ?")
            params.append(thread_id)
            if config["configurable"].get("checkpoint_ns") is not None:
                where.append("c.checkpoint_ns = ?")
                params.append(ns)
                single_scope = True
            if checkpoint_id:
                where.append("c.checkpoint_id = ?")
                params.append(checkpoint_id)
        if before is not None and (before_id := _scope_of(before, need_thread=False)[2]):
            where.append("c.checkpoint_id < ?")
            params.append(before_id)
        if limit is not None:
            limit = check_int(limit, "limit", 0, 2**62)
        if filter is not None and not isinstance(filter, Mapping):
            raise ValidationError(f"filter must be a dict, got {type(filter).__name__}")
        python_filter: dict[str, Any] = {}
        for key, value in (filter or {}).items():
            _check_saver_text(key, "a filter key")
            predicate = self._dialect.metadata_predicate(key, value)
            if predicate is None:
                python_filter[key] = value
            else:
                where.append(predicate[0])
                params.extend(predicate[1])
        if limit is not None and limit <= 0:
            return
        remaining = limit
        cursor: tuple[str, str, str] | None = None
        while True:
            page_where, page_params = list(where), list(params)
            if cursor is not None:
                if single_scope:
                    page_where.append("c.checkpoint_id < ?")
                    page_params.append(cursor[0])
                else:
                    page_where.append("(c.checkpoint_id, c.thread_id, c.checkpoint_ns) < (?, ?, ?)")
                    page_params.extend(cursor)
            size = _PAGE if remaining is None or python_filter else min(_PAGE, remaining)
            rows, tuples = self._fetch_page(page_where, page_params, size, single_scope)
            if config is not None and cursor is None:
                self._refresh(rows)
            if python_filter:
                tuples = [
                    t
                    for t in tuples
                    if all(
                        cast(dict[str, Any], t.metadata).get(k) == v
                        for k, v in python_filter.items()
                    )
                ]
            if remaining is not None:
                tuples = tuples[:remaining]
                remaining -= len(tuples)
            if tuples:
                yield tuples
            if len(rows) < size or remaining == 0:
                return
            last = rows[-1]
            cursor = (last.checkpoint_id, last.thread_id, last.ns)

    def _fetch_page(
        self,
        where: builtins.list[str],
        params: builtins.list[Any],
        limit: int,
        single_scope: bool,
        seed: bool = False,
    ) -> tuple[builtins.list[_Row], builtins.list[CheckpointTuple]]:
        # On PostgreSQL a single checkpoint comes with its writes in the same statement
        # (one round trip less); on SQLite two plain statements are faster.
        with_writes = limit == 1 and self._postgres
        sql = self._sql.select_checkpoints(where, single_scope, limit, with_writes)
        with self.db.read() as cur:
            raw = cur.execute(sql, [self._clock(), *params]).fetchall()
            if not raw:
                return [], []
            raw_writes: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
            if with_writes:
                unique: dict[tuple[str, str, str], Sequence[Any]] = {}
                for r in raw:
                    scope_id = (r[0], r[1], r[2])
                    unique.setdefault(scope_id, r[:12])
                    if r[12] is not None:  # task_id: the checkpoint has this write
                        raw_writes[scope_id].append((r[13], r[12], r[14], r[15], r[16], r[17]))
                raw = list(unique.values())
            rows = [self._decode_row(r) for r in raw]
            cached: dict[_BlobKey, tuple[str, bytes] | None] = {}
            missing: builtins.list[_Row] = []
            for row in rows:
                uncached = []
                for key in row.needed:
                    hit, stored = self._cached_blob((row.thread_id, row.ns, *key, row.generation))
                    if hit:
                        cached[(row.thread_id, row.ns, *key, row.generation)] = stored
                    else:
                        uncached.append(key)
                if uncached:
                    missing.append(dataclasses.replace(row, needed=uncached))
            blobs = self._load_blobs(cur, missing) if missing else {}
            if not with_writes:
                raw_writes = self._query_writes(cur, rows)
        writes = self._decode_writes(raw_writes)
        tuples = []
        # Rebuilt bytes are shared by the page's checkpoints; values are decoded per row.
        assembled: dict[_BlobKey, tuple[str, bytes] | None] = cached
        for row in rows:
            values = row.checkpoint["channel_values"]
            scope = blobs.get((row.thread_id, row.ns), {})
            for key in row.needed:
                memo_key = (row.thread_id, row.ns, *key, row.generation)
                if memo_key not in assembled:
                    assembled[memo_key] = self._assemble(row, scope, key)
                    self._cache_blob(memo_key, assembled[memo_key])
                    if seed and assembled[memo_key] is not None:
                        self._seed_tail(row, scope, key, assembled[memo_key][1])  # type: ignore[index]
                stored = assembled[memo_key]
                if stored is not None:
                    values[key[0]] = self.serde.loads_typed(stored)
            tuples.append(
                CheckpointTuple(
                    config={
                        "configurable": {
                            "thread_id": row.thread_id,
                            "checkpoint_ns": row.ns,
                            "checkpoint_id": row.checkpoint_id,
                        }
                    },
                    checkpoint=cast(Checkpoint, row.checkpoint),
                    metadata=row.metadata,
                    parent_config=_parent_config(row.thread_id, row.ns, row.parent_id),
                    pending_writes=writes.get((row.thread_id, row.ns, row.checkpoint_id), []),
                )
            )
        return rows, tuples

    def _decode_row(self, raw: Sequence[Any]) -> _Row:
        (thread_id, ns, checkpoint_id, parent_id, md_json, md_type, last_access, ttl_seconds) = raw[
            :8
        ]
        checkpoint: dict[str, Any] = self.serde.loads_typed((raw[8], _bytes(raw[9])))
        versions = checkpoint.get("channel_versions") or {}
        inline = checkpoint.get("channel_values") or {}
        values = {k: v for k, v in inline.items() if k in versions}
        checkpoint["channel_values"] = values
        needed = [(ch, str(ver)) for ch, ver in versions.items() if ch not in values]
        if md_type is not None:
            metadata = self.serde.loads_typed((md_type, _bytes(raw[10])))
        else:
            metadata = json.loads(md_json)
        return _Row(
            thread_id,
            ns,
            checkpoint_id,
            parent_id,
            checkpoint,
            metadata,
            needed,
            last_access,
            ttl_seconds,
            str(raw[11]),
        )

    def _load_blobs(
        self, cur: Cursor, rows: builtins.list[_Row]
    ) -> dict[tuple[str, str], _BlobRows]:
        wanted: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        for row in rows:
            wanted[(row.thread_id, row.ns)].update(row.needed)
        found: dict[tuple[str, str], _BlobRows] = {}
        for (thread_id, ns), keys in wanted.items():
            scope: _BlobRows = {}
            found[(thread_id, ns)] = scope
            ordered = sorted(keys)
            for start in range(0, len(ordered), _CHUNK):
                chunk = ordered[start : start + _CHUNK]
                params: list[Any] = []
                for channel, version in chunk:
                    params += (channel, version)
                params += (thread_id, ns, thread_id, ns)
                for channel, version, base, depth, checksum, type_, blob in cur.execute(
                    self._sql.blobs(len(chunk)), params
                ):
                    scope[(channel, version)] = (base, depth, checksum, type_, _bytes(blob))
        return found

    def _assemble(
        self, row: _Row, scope: _BlobRows, key: tuple[str, str]
    ) -> tuple[str, bytes] | None:
        """The (type, bytes) of one channel version, rebuilding append deltas."""
        entry = scope.get(key)
        if entry is None or entry[3] == _EMPTY:
            return None
        if entry[0] is None:
            return entry[3], entry[4]
        parts = [entry[4]]  # newest first
        seen = {key}
        base: str | None = entry[0]
        while base is not None:
            link = (key[0], base)
            entry = scope.get(link)
            if entry is None or link in seen or len(seen) > _MAX_DEPTH + 1:
                raise _BrokenChainError(
                    f"channel {key[0]!r} version {key[1]} of thread {row.thread_id!r} "
                    f"(namespace {row.ns!r}) extends version {base}, which is missing or "
                    "circular; the checkpoint data is damaged"
                )
            seen.add(link)
            parts.append(entry[4])
            base = entry[0]
        out = bytearray(parts[0][: _array_header(parts[0])])
        for part in reversed(parts):
            out += memoryview(part)[_array_header(part) :]
        return _MSGPACK, bytes(out)

    def _query_writes(
        self, cur: Cursor, rows: builtins.list[_Row]
    ) -> dict[tuple[str, str, str], builtins.list[tuple[Any, ...]]]:
        """(task_path, task_id, idx, channel, type, blob) of each checkpoint's writes."""
        by_scope: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            by_scope[(row.thread_id, row.ns)].append(row.checkpoint_id)
        raw: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for (thread_id, ns), ids in by_scope.items():
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                for cid, task_id, task_path, idx, channel, type_, blob in cur.execute(
                    self._sql.writes(len(chunk)), [thread_id, ns, *chunk]
                ):
                    raw[(thread_id, ns, cid)].append(
                        (task_path, task_id, idx, channel, type_, blob)
                    )
        return raw

    def _decode_writes(
        self, raw: dict[tuple[str, str, str], builtins.list[tuple[Any, ...]]]
    ) -> dict[tuple[str, str, str], builtins.list[PendingWrite]]:
        result: dict[tuple[str, str, str], list[PendingWrite]] = {}
        for key, items in raw.items():
            items.sort(key=lambda w: writes_sort_key(w[0], w[1], w[2]))
            result[key] = [
                (task_id, channel, self.serde.loads_typed((type_, _bytes(blob))))
                for _, task_id, _, channel, type_, blob in items
            ]
        return result

    def _refresh(self, rows: builtins.list[_Row]) -> None:
        """Move the expiry of the threads just read, at most about once per 1% of the TTL."""
        if not self.refresh_on_read or not rows:
            return
        now = self._clock()
        stale = {
            row.thread_id
            for row in rows
            if row.ttl_seconds is not None
            and row.last_access is not None
            and now - row.last_access >= min(1.0, row.ttl_seconds / 100)
        }
        if not stale:
            return
        statements = [(self._sql.refresh_thread, (now, now, t, now)) for t in sorted(stale)]
        with self._autocommit() as cur:
            if cur is not None:  # each refresh stands alone: no transaction needed
                for sql, params in statements:
                    cur.execute(sql, params)
                return
        with self.db.transaction() as cur:
            for sql, params in statements:
                cur.execute(sql, params)

    # --- append-delta bookkeeping ---------------------------------------------------------

    def _tail(self, key: tuple[str, str, str]) -> _Tail | None:
        with self._tails_lock:
            tail = self._tails.get(key)
            if tail is not None:
                self._tails.move_to_end(key)
            return tail

    def _remember(self, key: tuple[str, str, str], tail: _Tail) -> None:
        if len(tail.body) > _TAIL_MAX_BYTES:
            return
        with self._tails_lock:
            self._tails[key] = tail
            self._tails.move_to_end(key)
            while len(self._tails) > _TAIL_CACHE:
                self._tails.popitem(last=False)

    def _forget_thread(self, thread_id: str) -> None:
        with self._tails_lock:
            self._thread_hints.pop(thread_id, None)
            for key in [k for k in self._tails if k[0] == thread_id]:
                del self._tails[key]
            for blob_key in [k for k in self._blobs if k[0] == thread_id]:
                self._drop_blob(blob_key)

    def _drop_blob(self, key: _BlobKey) -> None:
        stored = self._blobs.pop(key)
        if stored is not None:
            self._blob_bytes -= len(stored[1])

    def _cached_blob(self, key: _BlobKey) -> tuple[bool, tuple[str, bytes] | None]:
        with self._tails_lock:
            if key not in self._blobs:
                return False, None
            self._blobs.move_to_end(key)
            return True, self._blobs[key]

    def _cache_blob(self, key: _BlobKey, stored: tuple[str, bytes] | None) -> None:
        size = 0 if stored is None else len(stored[1])
        if size > _BLOB_CACHE_BYTES // 4:
            return
        with self._tails_lock:
            if key in self._blobs:
                self._drop_blob(key)
            self._blobs[key] = stored
            self._blob_bytes += size
            while self._blob_bytes > _BLOB_CACHE_BYTES and self._blobs:
                self._drop_blob(next(iter(self._blobs)))

    def _seed_tail(self, row: _Row, scope: _BlobRows, key: tuple[str, str], data: bytes) -> None:
        entry = scope[key]
        header = _array_header(data)
        if entry[2] is not None and header and len(data) - header >= _DELTA_MIN_BODY:
            self._remember(
                (row.thread_id, row.ns, key[0]), _Tail(key[1], data[header:], entry[1], entry[2])
            )

    def _blob_write(
        self, thread_id: str, ns: str, channel: str, version: str, value: Any, deltas: bool
    ) -> _BlobWrite:
        """How to store one channel version: whole, or as an append delta on the version
        this process last wrote or read (when ``deltas`` and the value extends it)."""
        type_, data = self.serde.dumps_typed(value)
        full = (type_, data)
        header = _array_header(data) if type_ == _MSGPACK else 0
        if not header or len(data) - header < _DELTA_MIN_BODY:
            row: tuple[Any, ...] = (thread_id, ns, channel, version, None, 0, None, type_, data)
            return _BlobWrite(channel, version, row, full)
        body = data[header:]
        tail = self._tail((thread_id, ns, channel)) if deltas else None
        if (
            tail is None
            or tail.version == version
            or tail.depth >= _MAX_DEPTH
            or not data.startswith(tail.body, header)
        ):
            checksum = zlib.crc32(body)
            row = (thread_id, ns, channel, version, None, 0, checksum, type_, data)
            return _BlobWrite(channel, version, row, full, _Tail(version, body, 0, checksum))
        suffix = data[header + len(tail.body) :]
        # CRC-32 continued over the suffix: the checksum of the whole body.
        new = _Tail(version, body, tail.depth + 1, zlib.crc32(suffix, tail.checksum))
        whole_row = (thread_id, ns, channel, version, None, 0, new.checksum, type_, data)
        whole = _BlobWrite(channel, version, whole_row, full, dataclasses.replace(new, depth=0))
        row = (
            thread_id,
            ns,
            channel,
            version,
            tail.version,
            new.depth,
            new.checksum,
            type_,
            data[:header] + suffix,
        )
        return _BlobWrite(channel, version, row, full, new, tail, whole)

    # --- writes ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _autocommit(self) -> Iterator[Cursor | None]:
        """On PostgreSQL, a cursor whose every statement commits on its own, or joins a
        transaction the caller already opened on this thread (the ``SqlDatabase.read``
        contract); None on SQLite.

        One statement on it is one round trip, against three for ``db.transaction()``
        (BEGIN, the statement, COMMIT).
        """
        if not self._postgres:
            yield None
            return
        with self.db.read() as cur:
            yield cur

    def _pg_write(
        self,
        thread_id: str,
        owner: str | None,
        parts: Sequence[tuple[str, Sequence[Any]]],
        result: str,
    ) -> tuple[Any, ...] | None:
        """One PostgreSQL statement that opens ``thread_id`` and runs ``parts`` (named
        data-modifying CTEs): a single round trip per write. Returns the thread's
        generation followed by the ``result`` expressions, or None if the write must be
        done in a ``db.transaction()`` instead (no autocommit cursor, too many parameters,
        or the thread had expired).

        The thread is not read first: the statement creates it if missing and moves its
        clock if it is live, unless this process wrote to it less than a clock step ago
        (``_thread_hints``); in every case the ``state`` CTE returns the thread row as
        the statement found it, and what the hint skipped is done by a second statement
        if that row shows it was needed (another process deleted the thread or changed
        its TTL). If the thread had expired, the statement still wrote (into the expired
        thread, which no read sees); the caller then writes again in a transaction whose
        ``_open_thread`` purges the thread first, as it would have without this path.
        """
        from psycopg.types.numeric import Int8

        now = self._clock()
        expires_at = now + self.ttl if self.ttl is not None else None
        ctes: builtins.list[tuple[str, Sequence[Any]]] = [(self._sql.pg_thread_state, (thread_id,))]
        with self._tails_lock:
            hint = self._thread_hints.get(thread_id)
        opens = hint is None or self._needs_touch(now, *hint)
        generation = _new_generation()
        if opens:
            new_thread = (thread_id, now, self.ttl, expires_at, generation, owner)
            ctes.append((self._sql.pg_new_thread, new_thread))
            if self.ttl is None:
                ctes.append((self._sql.pg_touch_keep_ttl, (now, now, thread_id, now, now)))
            else:
                touch = (now, self.ttl, expires_at, thread_id, now, self.ttl, now)
                ctes.append((self._sql.pg_touch_set_ttl, touch))
        ctes += parts
        # Every int as bigint: psycopg types an int parameter by its size, and each
        # combination of types is prepared (and planned) as a statement of its own.
        params = [Int8(v) if type(v) is int else v for _, values in ctes for v in values]
        if len(params) > _PG_MAX_PARAMS:
            return None
        sql = (
            f"WITH {', '.join(text for text, _ in ctes)} SELECT s.*, {result} FROM "
            "(SELECT COUNT(*), MAX(expires_at), MAX(ttl_seconds), MAX(last_access), "
            "MAX(COALESCE(generation, '')) FROM state) s"
        )
        with self._autocommit() as cur:
            if cur is None:
                return None
            row = cur.execute(sql, params).fetchone()
            found, old_expires, old_ttl, old_access, old_generation = row[:5]
            if found and old_expires is not None and old_expires <= now:
                self._forget_thread(thread_id)  # expired: purged by the caller's retry
                return None
            stored_ttl = self.ttl if self.ttl is not None or not found else old_ttl
            if found and not self._needs_touch(now, old_access, old_ttl):
                hint = (old_access, old_ttl)  # nothing to move
            else:
                if not opens:  # the thread vanished or changed under the hint
                    missed = (thread_id, now, self.ttl, expires_at, generation, owner)
                    cur.execute(self._sql.touch_thread, missed)
                hint = (now, stored_ttl)
        with self._tails_lock:
            self._thread_hints[thread_id] = hint
            self._thread_hints.move_to_end(thread_id)
            while len(self._thread_hints) > _THREAD_HINTS:
                self._thread_hints.popitem(last=False)
        return (old_generation if found else generation, *row[5:])

    def _needs_touch(self, now: float, last_access: float, ttl_seconds: float | None) -> bool:
        """Whether a write at ``now`` moves the thread's clock (as ``_open_thread``)."""
        if self.ttl is not None and self.ttl != ttl_seconds:
            return True
        step = min(1.0, ttl_seconds / 100) if ttl_seconds else 1.0
        return now - last_access >= step

    def _open_thread(self, cur: Cursor, thread_id: str, now: float, owner: str | None) -> str:
        """Start a write on ``thread_id``: purge it if it expired, then move its clock.
        Returns the thread's generation."""
        generation = _new_generation()
        row = cur.execute(self._sql.thread_state, (thread_id,)).fetchone()
        if row is not None:
            expires_at, ttl_seconds, last_access, stored, _ = row
            if expires_at is not None and expires_at <= now:
                # An expired thread is gone as a whole; this write starts a fresh one.
                self._purge(cur, thread_id)
            else:
                generation = str(stored)
                if not self._needs_touch(now, last_access, ttl_seconds):
                    return generation  # the clock moved too little to be worth an update
        expires_at = now + self.ttl if self.ttl is not None else None
        touch = (thread_id, now, self.ttl, expires_at, generation, owner)
        cur.execute(self._sql.touch_thread, touch)
        return generation

    def _purge(self, cur: Cursor, thread_id: str) -> None:
        cur.execute(self._sql.delete_thread_writes, (thread_id,))
        cur.execute(self._sql.delete_thread_blobs, (thread_id,))
        cur.execute(self._sql.delete_thread_checkpoints, (thread_id,))
        cur.execute(self._sql.delete_thread_row, (thread_id,))
        self._forget_thread(thread_id)

    def _metadata_columns(
        self, metadata: CheckpointMetadata
    ) -> tuple[str, str | None, bytes | None]:
        try:
            text = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
            # PostgreSQL's jsonb rejects NUL characters, which json.dumps writes as \u0000.
            if "\\u0000" not in text and json.loads(text) == metadata:
                return text, None, None
        except (TypeError, ValueError):
            pass
        # JSON would change some value: keep the exact metadata as a serde blob and a JSON
        # approximation for SQL filters.
        type_, blob = self.serde.dumps_typed(metadata)
        return json.dumps(_coerce_json(metadata), ensure_ascii=False), type_, blob

    def _store_checkpoint(
        self,
        thread_id: str,
        owner: str | None,
        row: tuple[Any, ...],
        blobs: builtins.list[_BlobWrite],
    ) -> tuple[builtins.list[_BlobWrite], str] | None:
        """Write the blob rows and the checkpoint row in one transaction; return the blob
        writes as stored, or None if a delta's base was no longer stored as remembered
        and nothing of the checkpoint became visible (PostgreSQL; the caller retries
        without deltas). A delta extends its base only while that row still has the
        depth and checksum this process remembers: another process may have replaced or
        deleted it."""
        if self._postgres:
            stored = self._pg_store_checkpoint(thread_id, owner, row, blobs)
            if stored is not None:
                generation, complete = stored
                return (blobs, generation) if complete else None
            # No autocommit cursor, or the thread had expired: write again below.
        with self.db.transaction() as cur:
            generation = self._open_thread(cur, thread_id, self._clock(), owner)
            written = []
            for blob in blobs:
                if blob.base is not None and blob.whole is not None:
                    base = (thread_id, blob.row[1], blob.channel, blob.base.version)
                    found = cur.execute(self._sql.blob_state, base).fetchone()
                    if found is None or tuple(found) != (blob.base.depth, blob.base.checksum):
                        blob = blob.whole
                written.append(blob)
            if written:
                cur.executemany(self._sql.upsert_blob, [b.row for b in written])
            cur.execute(self._sql.upsert_checkpoint, row)
        return written, generation

    def _pg_store_checkpoint(
        self,
        thread_id: str,
        owner: str | None,
        row: tuple[Any, ...],
        blobs: builtins.list[_BlobWrite],
    ) -> tuple[str, bool] | None:
        """``_store_checkpoint`` as one PostgreSQL statement: whole blob rows, delta rows
        (each only if its base matches), then the checkpoint, only if every delta row was
        written (counted from their RETURNING rows: a CTE cannot see another's rows). The
        thread's generation and True if the checkpoint was stored, False if a delta base
        changed (nothing visible was written); None if the thread had expired or the fast
        path is unavailable."""
        parts: builtins.list[tuple[str, Sequence[Any]]] = []
        whole = [b.row for b in blobs if b.base is None]
        deltas = [b for b in blobs if b.base is not None]
        for i, start in enumerate(range(0, len(whole), _ROWS_PER_INSERT)):
            chunk = whole[start : start + _ROWS_PER_INSERT]
            sql = self._sql.insert_blobs(len(chunk))
            parts.append((f"b{i} AS ({sql})", [v for r in chunk for v in r]))
        for i, blob in enumerate(deltas):
            assert blob.base is not None and blob.tail is not None
            params = (
                *(blob.version, blob.tail.depth, blob.tail.checksum, *blob.row[7:]),
                *(thread_id, blob.row[1], blob.channel),
                *(blob.base.version, blob.base.depth, blob.base.checksum),
            )
            parts.append((f"d{i} AS ({self._sql.delta_blob} RETURNING 1)", params))
        if deltas:
            written = " + ".join(f"(SELECT COUNT(*) FROM d{i})" for i in range(len(deltas)))
            checkpoint = self._sql.checkpoint_if(f"{written} = {len(deltas)}")
        else:
            checkpoint = self._sql.upsert_checkpoint
        parts.append((f"cp AS ({checkpoint} RETURNING 1)", row))
        result = self._pg_write(thread_id, owner, parts, "(SELECT COUNT(*) FROM cp)")
        return None if result is None else (str(result[0]), bool(result[1]))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint; only channels in ``new_versions`` get new blob rows."""
        conf = config["configurable"]
        thread_id, ns, _ = _scope_of(config)
        values = checkpoint["channel_values"]
        inline = {k: v for k, v in values.items() if _is_inline(v)}
        type_, data = self.serde.dumps_typed({**checkpoint, "channel_values": inline})
        full_metadata = get_checkpoint_metadata(config, metadata)
        owner = run_user_id(config)
        md_json, md_type, md_blob = self._metadata_columns(full_metadata)
        _check_saver_text(md_json, "the checkpoint metadata", allow_empty=True)
        run_id = full_metadata.get("run_id")
        row = (
            thread_id,
            ns,
            checkpoint["id"],
            conf.get("checkpoint_id"),
            str(run_id) if run_id is not None else None,
            md_json,
            md_type,
            type_,
            data,
            md_blob,
        )
        deltas = True
        while True:
            blobs = []
            for channel, version in new_versions.items():
                if channel in inline:
                    continue
                if channel not in values:
                    empty = (thread_id, ns, channel, str(version), None, 0, None, _EMPTY, None)
                    blobs.append(_BlobWrite(channel, str(version), empty, None))
                    continue
                blobs.append(
                    self._blob_write(thread_id, ns, channel, str(version), values[channel], deltas)
                )
            stored = self._store_checkpoint(thread_id, owner, row, blobs)
            if stored is not None:
                written, generation = stored
                break
            # A delta base is no longer stored as this process remembers it (another
            # process replaced or deleted it): nothing was stored; write whole values.
            deltas = False
        for blob in written:  # only once the rows are committed
            if blob.tail is not None:
                self._remember((thread_id, ns, blob.channel), blob.tail)
            if blob.full is not None:
                key = (thread_id, ns, blob.channel, blob.version, generation)
                self._cache_blob(key, blob.full)
        return {
            "configurable": {
                "thread_id": conf["thread_id"],
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes (first write wins; special channels are upserted)."""
        if not writes:
            return
        thread_id, ns, checkpoint_id = _scope_of(config)
        if not checkpoint_id:
            raise ValidationError('put_writes needs config["configurable"]["checkpoint_id"]')
        task_id = _check_saver_text(task_id, "task_id")
        owner = run_user_id(config)
        upsert = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        rows = [
            (
                thread_id,
                ns,
                checkpoint_id,
                task_id,
                WRITES_IDX_MAP.get(channel, idx),
                task_path,
                channel,
                *self.serde.dumps_typed(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]
        if self._postgres:
            # One row per idx, as row-by-row inserts would leave them: a multi-row upsert
            # may not touch one row twice.
            unique: dict[Any, tuple[Any, ...]] = {}
            for r in rows:
                if upsert or r[4] not in unique:
                    unique[r[4]] = r
            ordered = list(unique.values())
            parts: builtins.list[tuple[str, Sequence[Any]]] = []
            for i, start in enumerate(range(0, len(ordered), _ROWS_PER_INSERT)):
                chunk = ordered[start : start + _ROWS_PER_INSERT]
                sql = self._sql.insert_writes(len(chunk), upsert)
                parts.append((f"w{i} AS ({sql})", [v for r in chunk for v in r]))
            if self._pg_write(thread_id, owner, parts, "0") is not None:
                return
            # No autocommit cursor, or the thread had expired: write it the long way.
        sql = self._sql.upsert_write if upsert else self._sql.insert_write
        with self.db.transaction() as cur:
            self._open_thread(cur, thread_id, self._clock(), owner)
            cur.executemany(sql, rows)

    def threads_owned_by(self, user_id: str) -> builtins.list[str]:
        """Threads that belong to ``user_id``: created by a run with that ``user_id``
        (recorded on the thread), or, for threads written before owners were recorded,
        whose checkpoints all name that ``user_id`` in their metadata."""
        check_id(user_id, "user_id")
        predicate, params = self._dialect.metadata_predicate("user_id", user_id) or ("", [])
        with self.db.read() as cur:
            owned = {
                str(r[0])
                for r in cur.execute(
                    f"SELECT thread_id FROM {_THREADS} WHERE owner = ?", (user_id,)
                ).fetchall()
            }
            legacy = [
                str(r[0])
                for r in cur.execute(
                    f"SELECT DISTINCT c.thread_id FROM {_CHECKPOINTS} c LEFT JOIN {_THREADS} t "
                    f"ON t.thread_id = c.thread_id WHERE t.owner IS NULL AND {predicate}",
                    params,
                ).fetchall()
            ]
            for thread_id in legacy:
                named = {
                    json.loads(md).get("user_id")
                    for (md,) in cur.execute(
                        f"SELECT metadata FROM {_CHECKPOINTS} WHERE thread_id = ?", (thread_id,)
                    ).fetchall()
                }
                if named - {None} == {user_id}:
                    owned.add(thread_id)
        return sorted(owned)

    def existing_threads(self, thread_ids: Sequence[str]) -> builtins.list[str]:
        """Those of ``thread_ids`` that have checkpoints."""
        found: set[str] = set()
        ids = sorted({str(t) for t in thread_ids})
        with self.db.read() as cur:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                found.update(
                    str(r[0])
                    for r in cur.execute(
                        f"SELECT DISTINCT thread_id FROM {_CHECKPOINTS} "
                        f"WHERE thread_id IN ({marks})",
                        chunk,
                    ).fetchall()
                )
        return sorted(found)

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in all namespaces."""
        thread_id = _check_saver_text(thread_id, "thread_id")
        with self.db.transaction() as cur:
            self._purge(cur, thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata ``run_id`` is listed."""
        ids = sorted({str(r) for r in run_ids})
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            scopes_sql, writes_sql, checkpoints_sql = self._sql.run_ids(len(chunk))
            with self.db.transaction() as cur:
                scopes = cur.execute(scopes_sql, chunk).fetchall()
                if not scopes:
                    continue
                cur.execute(writes_sql, chunk)
                cur.execute(checkpoints_sql, chunk)
                for thread_id, ns in scopes:
                    self._collect_blobs(cur, thread_id, ns)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints, blobs and writes of one thread to another (merging)."""
        source = _check_saver_text(source_thread_id, "source_thread_id")
        target = _check_saver_text(target_thread_id, "target_thread_id")
        if source == target:
            return
        with self.db.transaction() as cur:
            now = self._clock()
            src = cur.execute(self._sql.thread_state, (source,)).fetchone()
            if src is not None and src[0] is not None and src[0] <= now:
                return  # an expired source no longer exists
            if not cur.execute(self._sql.count_checkpoints, (source,)).fetchone()[0]:
                return
            row = cur.execute(self._sql.thread_state, (target,)).fetchone()
            if row is not None and row[0] is not None and row[0] <= now:
                self._purge(cur, target)
                row = None
            cur.execute(self._sql.copy_checkpoints, (target, source))
            cur.execute(self._sql.copy_blobs, (target, source))
            cur.execute(self._sql.copy_writes, (target, source))
            ttl = self.ttl if self.ttl is not None else (src[1] if src is not None else None)
            expires = now + ttl if ttl is not None else None
            generation = row[3] if row is not None else _new_generation()
            owner = src[4] if src is not None else None
            cur.execute(self._sql.touch_thread, (target, now, ttl, expires, generation, owner))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: keep each namespace's latest checkpoint; ``"delete"``: all.

        Raises ``ValueError`` for ``keep_latest`` on a thread whose latest checkpoint tracks
        ``DeltaChannel`` counters, since dropping its ancestors would lose channel state.
        """
        if strategy not in ("keep_latest", "delete"):
            raise ValidationError(
                f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'"
            )
        for thread_id in dict.fromkeys(str(t) for t in thread_ids):
            with self.db.transaction() as cur:
                row = cur.execute(self._sql.thread_state, (thread_id,)).fetchone()
                expired = row is not None and row[0] is not None and row[0] <= self._clock()
                if strategy == "delete" or expired:
                    self._purge(cur, thread_id)
                    continue
                latest = cur.execute(self._sql.latest_per_ns, (thread_id,)).fetchall()
                for ns, md_json in latest:
                    if json.loads(md_json).get("counters_since_delta_snapshot"):
                        raise ValidationError(
                            f"thread {thread_id!r} (namespace {ns!r}) uses DeltaChannel state; "
                            "keep_latest would drop the history it is rebuilt from. Use "
                            "strategy='delete' or leave this thread unpruned."
                        )
                cur.execute(self._sql.delete_older, (thread_id,))
                cur.execute(self._sql.delete_orphan_writes, (thread_id,))
                for ns, _ in latest:
                    self._collect_blobs(cur, thread_id, ns)

    def _collect_blobs(self, cur: Cursor, thread_id: str, ns: str) -> None:
        """Delete the blob rows of one namespace no checkpoint (or delta) still needs."""
        needed: list[tuple[str, str]] = []
        for type_, data in cur.execute(self._sql.ns_checkpoints, (thread_id, ns)).fetchall():
            checkpoint = self.serde.loads_typed((type_, _bytes(data)))
            for channel, version in (checkpoint.get("channel_versions") or {}).items():
                needed.append((channel, str(version)))
        bases = {
            (channel, version): base
            for channel, version, base in cur.execute(
                self._sql.ns_blob_keys, (thread_id, ns)
            ).fetchall()
        }
        keep: set[tuple[str, str]] = set()
        while needed:
            key = needed.pop()
            if key in keep or key not in bases:
                continue
            keep.add(key)
            if (base := bases[key]) is not None:
                needed.append((key[0], base))
        stale = [(thread_id, ns, ch, v) for ch, v in bases if (ch, v) not in keep]
        if stale:
            cur.executemany(self._sql.delete_blob, stale)

    def sweep_expired(self) -> int:
        """Delete every expired thread now; return how many were removed."""
        removed = 0
        while True:
            with self.db.transaction() as cur:
                rows = cur.execute(self._sql.expired_threads, (self._clock(), _SWEEP_BATCH))
                batch = [r[0] for r in rows.fetchall()]
                for thread_id in batch:
                    self._purge(cur, thread_id)
            removed += len(batch)
            if len(batch) < _SWEEP_BATCH:
                return removed

    def get_next_version(self, current: str | int | float | None, channel: None = None) -> str:
        """``"<32-digit counter>.<16-digit random>"``, the format of langgraph's own savers."""
        if current is None:
            counter = 0
        elif isinstance(current, int | float):
            counter = int(current)
        else:
            counter = int(current.split(".")[0])
        return f"{counter + 1:032}.{random.random():016}"

    # --- async: the same code in a worker thread ------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async ``get_tuple``."""
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async ``list``; each page of results is read in a worker thread."""
        pages = self._pages(config, filter, before, limit)
        while True:
            page = await asyncio.to_thread(next, pages, None)
            if page is None:
                return
            for item in page:
                yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async ``put``."""
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async ``put_writes``."""
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async ``delete_thread``."""
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async ``delete_for_runs``."""
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async ``copy_thread``."""
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async ``prune``."""
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)

    async def asweep_expired(self) -> int:
        """Async ``sweep_expired``."""
        return await asyncio.to_thread(self.sweep_expired)


# --- thread + session ---------------------------------------------------------------------


def delete_thread_and_session(
    client: Any, thread_id: str, user_id: str, *, saver: AgentMemorySaver | None = None
) -> None:
    """Delete a thread's checkpoints and the engine session with the same id.

    For apps that use one conversation id as both the LangGraph ``thread_id`` and the memory
    session id. A missing session is not an error. ``saver`` defaults to
    ``AgentMemorySaver(client)``.
    """
    (saver or AgentMemorySaver(client)).delete_thread(thread_id)
    with contextlib.suppress(NotFoundError):
        client.get_user(user_id).get_session(thread_id).delete()


async def adelete_thread_and_session(
    client: Any, thread_id: str, user_id: str, *, saver: AgentMemorySaver | None = None
) -> None:
    """Async ``delete_thread_and_session``; works with sync and async clients."""
    if saver is None:
        saver = await asyncio.to_thread(AgentMemorySaver, client)
    await saver.adelete_thread(thread_id)
    with contextlib.suppress(NotFoundError):
        user = client.get_user(user_id)
        if inspect.isawaitable(user):
            user = await user
        session = user.get_session(thread_id)
        if inspect.isawaitable(session):
            session = await session
        result = session.delete()
        if inspect.isawaitable(result):
            await result
