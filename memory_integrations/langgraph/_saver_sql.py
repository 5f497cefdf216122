"""The checkpointer's tables and SQL, written once with portable ``?`` placeholders.

What differs by dialect (the binary column type, JSON field access in ``list`` filters) is
in ``DIALECTS``; the statements are attributes of :class:`_Statements`, plus builders for
the variable-size ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..storage import DIALECT_TYPES, render_migrations

COMPONENT = "langgraph_checkpoints"

_CHUNK = 250  # keys per ``IN`` / ``VALUES`` batch
_ROWS_PER_INSERT = 100  # rows per multi-row INSERT (9 parameters each: < 999)

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
    "sqlite": _Dialect(DIALECT_TYPES["sqlite"]["blob"], _sqlite_metadata_predicate),
    "postgres": _Dialect(DIALECT_TYPES["postgres"]["blob"], _postgres_metadata_predicate),
}


def migrations_for(dialect: str) -> list[str]:
    """The migration scripts rendered for ``dialect`` (``"sqlite"`` or ``"postgres"``)."""
    return render_migrations(MIGRATIONS, dialect)


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
