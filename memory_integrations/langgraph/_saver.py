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
import random
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
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
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..errors import ConfigurationError, NotFoundError, ValidationError
from ..storage import DATABASE_SOURCES, Cursor, SqlDatabase, database_of
from ..turn import one_source
from ..validation import check_int
from ._owner import run_user_id
from ._saver_checks import (
    _check_saver_text,
    _check_seconds,
    _new_generation,
    _parent_config,
    _scope_of,
)
from ._saver_postgres import PostgresWrites
from ._saver_sql import (
    _CHUNK,
    _DIALECTS,
    _ROWS_PER_INSERT,
    COMPONENT,
    MIGRATIONS,
    _Statements,
    migrations_for,
)
from ._saver_threads import ThreadMaintenance
from ._saver_values import (
    _EMPTY,
    ValueCache,
    _BlobKey,
    _BlobRows,
    _BlobWrite,
    _bytes,
    _CheckpointRow,
    _coerce_json,
    _is_inline,
    assemble,
    blob_write,
)

__all__ = [
    "COMPONENT",
    "MIGRATIONS",
    "AgentMemorySaver",
    "adelete_thread_and_session",
    "delete_thread_and_session",
    "migrations_for",
]

logger = logging.getLogger(__name__)

_PAGE = 100  # checkpoints hydrated per read transaction in ``list``


# --- the saver ----------------------------------------------------------------------------


def _metadata_field(metadata: Mapping[str, Any], key: str) -> Any:
    """``metadata[key]``; a dotted key that is not a key itself walks nested objects
    (``"user.access-level"`` is ``metadata["user"]["access-level"]``), None when absent."""
    if key in metadata or "." not in key:
        return metadata.get(key)
    node: Any = metadata
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


class AgentMemorySaver(ThreadMaintenance, PostgresWrites, BaseCheckpointSaver[str]):
    """LangGraph checkpointer stored in the engine's SQL database (SQLite or PostgreSQL).

    ``client_or_db`` is an ``AgentMemoryClient`` / ``AsyncAgentMemoryClient`` with an
    embedded backend (the checkpoints then live in the same file as the agent memory, in
    their own tables), an ``SqlDatabase``, or a SQLite path / ``postgresql://`` URL (then
    the saver opens the database itself and ``close()`` closes it).

    ``ttl`` (seconds, like LangGraph's savers; the store's ``TTLConfig`` counts minutes, like
    LangGraph's stores) expires a whole thread after that long without activity: an expired
    thread disappears from every read at once, and ``sweep_expired()`` (or the background
    sweeper started by ``sweep_interval``) deletes its rows. Writes always refresh the
    thread's clock; reads do too while ``refresh_on_read`` is true. ``clock`` returns epoch
    seconds and exists for tests.

    All ``a*`` methods run the same synchronous code in a worker thread. ``close()`` stops
    the sweeper; the database is shared and stays open. Each thread records the ``user_id``
    of the run that created it (``config["configurable"]["user_id"]`` or the run context's
    ``user_id``): what ``erase_user`` removes.

    Args:
        client_or_db: a client with an embedded backend, an ``SqlDatabase``, or a SQLite
            path / ``postgresql://`` URL (or pass it as ``client=``).
        serde: LangGraph's serializer (default: ``JsonPlusSerializer``).
        ttl: seconds of inactivity after which a thread expires (None: never).
        refresh_on_read: whether reads restart a thread's TTL clock.
        sweep_interval: seconds between background sweeps of expired threads (None: none).
        clock: returns epoch seconds (tests).

    Example:
        ```python
        from langgraph.graph import START, MessagesState, StateGraph

        from memory_integrations import AgentMemoryClient
        from memory_integrations.langgraph import AgentMemorySaver

        builder = StateGraph(MessagesState)
        builder.add_node("echo", lambda state: {"messages": [("ai", "hello")]})
        builder.add_edge(START, "echo")
        with AgentMemoryClient("memory.sqlite3") as client:
            graph = builder.compile(checkpointer=AgentMemorySaver(client, ttl=86_400))
            config = {"configurable": {"thread_id": "trip-1", "user_id": "ana"}}
            graph.invoke({"messages": [("user", "hi")]}, config)
        ```
    """

    def __init__(
        self,
        client_or_db: Any = None,
        *,
        client: Any = None,
        serde: SerializerProtocol | None = None,
        ttl: float | None = None,
        refresh_on_read: bool = True,
        sweep_interval: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(serde=serde)
        _check_seconds(ttl, "ttl")
        _check_seconds(sweep_interval, "sweep_interval")
        client_or_db = one_source(client_or_db, client, "AgentMemorySaver", DATABASE_SOURCES)
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
        self._values = ValueCache()
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
            # A dotted key names a nested field when the metadata has no such key itself
            # (SqliteSaver reads "user.access-level" as a JSON path): compared in Python.
            predicate = None if "." in key else self._dialect.metadata_predicate(key, value)
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
                        _metadata_field(cast(dict[str, Any], t.metadata), k) == v
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
    ) -> tuple[builtins.list[_CheckpointRow], builtins.list[CheckpointTuple]]:
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
            missing: builtins.list[_CheckpointRow] = []
            for row in rows:
                uncached = []
                for key in row.needed:
                    hit, stored = self._values.cached_blob(
                        (row.thread_id, row.ns, *key, row.generation)
                    )
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
                    assembled[memo_key] = assemble(row, scope, key)
                    self._values.cache_blob(memo_key, assembled[memo_key])
                    if seed and assembled[memo_key] is not None:
                        self._values.seed_tail(row, scope, key, assembled[memo_key][1])  # type: ignore[index]
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

    def _decode_row(self, raw: Sequence[Any]) -> _CheckpointRow:
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
        return _CheckpointRow(
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
        self, cur: Cursor, rows: builtins.list[_CheckpointRow]
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

    def _query_writes(
        self, cur: Cursor, rows: builtins.list[_CheckpointRow]
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

    def _refresh(self, rows: builtins.list[_CheckpointRow]) -> None:
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

    # --- writes ---------------------------------------------------------------------------

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
                    blob_write(
                        self.serde,
                        self._values,
                        thread_id,
                        ns,
                        channel,
                        str(version),
                        values[channel],
                        deltas,
                    )
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
                self._values.remember((thread_id, ns, blob.channel), blob.tail)
            if blob.full is not None:
                key = (thread_id, ns, blob.channel, blob.version, generation)
                self._values.cache_blob(key, blob.full)
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
