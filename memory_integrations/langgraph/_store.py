"""``AgentMemoryStore``: LangGraph's long-term ``BaseStore`` kept in the memory engine's database.

Layout (migration component ``langgraph_store``, three tables):

* ``langgraph_store_items``: one row per (namespace, key). The namespace is stored as its
  labels joined with ``.`` (labels never contain one), the value as JSON text, times as epoch
  microseconds, plus ``expires_at`` / ``ttl_minutes`` for TTL, the per-put ``index`` override
  (so ``reindex()`` can redo it), and two store versions: ``version`` (last change of any kind)
  and ``vectors_version`` (last time its field rows were rewritten).
* ``langgraph_store_vectors``: one row per indexed text of an item (a field, or one element of
  a ``[*]`` path): the text and its embedding (pgvector ``vector`` on PostgreSQL, float32 BLOB
  on SQLite; NULL when the store has no index).
* ``langgraph_store_state``: one row with the version counters and the embedder that wrote
  the vectors.

Search runs on the engine's in-memory retrieval pieces: the indexed texts of every item sit in
one :class:`~memory_integrations.retrieval.SearchIndex` (a contiguous float32 matrix plus
BM25 postings; row "seq" = item id, row "session" = namespace), ranked by
:func:`~memory_integrations.retrieval.hybrid_rank` (``PLAIN_RANKING``: cosine and BM25, no
neighbours). The index follows the database the way the engine's per-user indexes do: every
write bumps ``version`` in its own transaction, and a search first fetches the rows changed
since the version it holds (deletes also set ``reset_version``, which forces a reload), so any
number of processes sharing the file or the PostgreSQL database stay consistent. A process
applies its own writes to its index directly, without reading them back.

Filters are evaluated in Python with the same semantics as ``InMemoryStore``; without a query,
results come newest-updated first (like ``SqliteStore`` / ``PostgresStore``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    tokenize_path,
)

from ..embedders import (
    Embedder,
    LangChainEmbedder,
    default_embedder,
    resolve_embedder,
)
from ..errors import ConfigurationError, EmbeddingError, ValidationError
from ..retrieval import IndexCache, query_terms
from ..storage import (
    DATABASE_SOURCES,
    DIALECT_TYPES,
    Cursor,
    SqlDatabase,
    chunks,
    database_of,
    placeholders,
)
from ..turn import one_source
from ..validation import check_id
from ._owner import run_user_id
from ._store_checks import (
    _check_key,
    _check_namespace,
    _check_namespace_paths,
    _check_op,
    _check_ttl_config,
    _dumps,
)
from ._store_distance import DistanceType, check_distance_type, unit_checked, unwrap_non_unit
from ._store_filters import _does_match, _matches
from ._store_index import _KEY, _NO_VECTOR, Ranking, _TextRow
from ._store_maintenance import StoreMaintenance
from ._store_sql import (
    _CHUNK,
    _ITEM_COLUMNS,
    _NOT_EXPIRED,
    _US,
    COMPONENT,
    MIGRATIONS,
    _ns_text,
    _ns_tuple,
    _scope,
    _to_datetime,
    migrations_for,
)

__all__ = ["COMPONENT", "MIGRATIONS", "AgentMemoryStore", "migrations_for"]

logger = logging.getLogger(__name__)

# --- embedders ----------------------------------------------------------------------------


def _resolve_embed(embed: Any, dims: int | None, fallback: Embedder | None) -> Embedder:
    """Turn ``IndexConfig["embed"]`` into an Embedder (None: the client's or the default)."""
    if embed is None:
        return fallback if fallback is not None else default_embedder()
    try:
        return resolve_embedder(embed, dim=dims)
    except ConfigurationError:
        if not isinstance(embed, str):
            raise
    # A LangChain provider string ("cohere:embed-english-v3.0"): LangGraph's own loader.
    from langgraph.store.base.embed import ensure_embeddings

    return LangChainEmbedder(ensure_embeddings(embed), name=embed, dim=dims)


@dataclass
class _Put:
    """A put ready to write: serialized value, TTL and the texts to index."""

    namespace: str
    key: str
    value: str
    index_fields: str | None
    ttl: float | None
    texts: list[tuple[str, str]]  # (field, text)
    owner: str | None


# --- the store ----------------------------------------------------------------------------


class AgentMemoryStore(StoreMaintenance, BaseStore):
    """LangGraph ``BaseStore`` kept in the memory engine's database (SQLite or PostgreSQL).

    ``client_or_db`` is an ``AgentMemoryClient`` / ``AsyncAgentMemoryClient`` with an
    embedded backend, an ``SqlDatabase``, or a SQLite path / ``postgresql://`` URL (then the
    store opens the database itself and ``close()`` closes it). Items live in their own
    tables next to the agent memory.

    ``index`` is LangGraph's ``IndexConfig`` (``dims``, ``embed``, ``fields``, and
    ``PostgresStore``'s ``distance_type``): with it, ``search(query=...)`` ranks the indexed
    texts by hybrid relevance (cosine similarity fused with BM25, so an exact query word
    helps), and ``SearchItem.score`` is the score of the item's best-matching text the way
    ``PostgresStore`` computes it: the cosine similarity (``distance_type="cosine"``, the
    default), the dot product (``"inner_product"``) or the negated Euclidean distance
    (``"l2"``). Vectors are kept L2-normalised, so the last two need an embedder that
    returns unit vectors (a non-unit one is refused with a ``ConfigurationError``).
    ``ranking="vector"`` orders by that score alone, exactly like ``InMemoryStore`` /
    ``PostgresStore``. Without ``embed`` the client's embedder is used (the local default
    embedder for a bare database). Without ``index``, a query ranks items by BM25 over their
    text (score: BM25 relative to the best match); items without a match, or without indexed
    text, follow with ``score=None``.

    ``ttl`` is LangGraph's ``TTLConfig``: ``default_ttl`` (minutes), ``refresh_on_read``,
    ``omit_expired``, ``sweep_interval_minutes`` (starts a background sweeper; ``close()``
    stops it). As in LangGraph's SQLite and PostgreSQL stores, an expired item is still
    returned (and a read that refreshes its TTL revives it) until ``sweep_ttl()`` or the
    sweeper deletes it; with ``omit_expired=True`` reads hide it from the moment it expires.

    Every item records the user it belongs to when it is written, which is what
    ``memory_integrations.lifecycle.erase_user`` removes: with ``owner_label=n``, the user
    named by label ``n`` of the item's namespace (e.g. ``owner_label=1`` for
    ``("memories", user_id)``); otherwise the ``user_id`` of the graph run that writes it
    (``config["configurable"]["user_id"]`` or the run context's ``user_id``). A namespace
    label that merely equals a user id does not make an item theirs.

    ``abatch`` runs ``batch`` in a worker thread. ``clock`` returns epoch seconds (tests).

    Args:
        client_or_db: a client with an embedded backend, an ``SqlDatabase``, or a SQLite
            path / ``postgresql://`` URL (or pass it as ``client=``).
        index: LangGraph's ``IndexConfig`` (``dims``, ``embed``, ``fields``;
            ``distance_type``: ``"cosine"``, ``"l2"`` or ``"inner_product"``).
        ttl: LangGraph's ``TTLConfig``, in minutes like every LangGraph store (the saver's
            ``ttl`` is seconds); ``omit_expired`` hides expired items.
        ranking: ``"hybrid"`` (cosine fused with BM25) or ``"vector"`` (cosine only).
        owner_label: the namespace label that names the owning user, e.g. 1 for
            ``("memories", user_id)``.
        clock: returns epoch seconds (tests).

    Example:
        ```python
        from memory_integrations import AgentMemoryClient
        from memory_integrations.langgraph import AgentMemoryStore

        with AgentMemoryClient("memory.sqlite3") as client:
            store = AgentMemoryStore(client, index={"fields": ["text"]}, owner_label=1)
            store.put(("memories", "ana"), "diet", {"text": "Ana is vegetarian."})
            hits = store.search(("memories", "ana"), query="what does she eat?")
        ```
    """

    supports_ttl: bool = True

    def __init__(
        self,
        client_or_db: Any = None,
        *,
        client: Any = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ranking: Ranking = "hybrid",
        owner_label: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if owner_label is not None and (
            isinstance(owner_label, bool) or not isinstance(owner_label, int) or owner_label < 0
        ):
            raise ConfigurationError(
                f"owner_label is the position of the namespace label that names the owning "
                f"user (e.g. 1 for ('memories', user_id)), got {owner_label!r}"
            )
        self.owner_label = owner_label
        client_or_db = one_source(client_or_db, client, "AgentMemoryStore", DATABASE_SOURCES)
        db, owned = database_of(client_or_db, "AgentMemoryStore")
        self._owned: SqlDatabase | None = db if owned else None
        fallback: Embedder | None = getattr(client_or_db, "embedder", None) or getattr(
            getattr(client_or_db, "backend", None), "embedder", None
        )
        if db.dialect not in DIALECT_TYPES:
            raise ConfigurationError(f"unsupported SQL dialect {db.dialect!r}")
        if ranking not in ("hybrid", "vector"):
            raise ConfigurationError(f"ranking must be 'hybrid' or 'vector', not {ranking!r}")
        self.db = db
        self.ranking: Ranking = ranking
        self._clock = clock
        self._postgres = db.dialect == "postgres"
        self.ttl_config = _check_ttl_config(ttl)
        self.index_config: IndexConfig | None = None
        self.distance_type: DistanceType = "cosine"
        self.embedder: Embedder | None = None
        self._fields: list[tuple[str, str | list[str]]] = []
        try:
            if index is not None:
                self._configure_index(index, fallback)
            self.schema_version = db.migrate(COMPONENT, migrations_for(db.dialect))
        except BaseException:
            if self._owned is not None:
                self._owned.close()
            raise
        self._dim = self.embedder.dim if self.embedder is not None else 1
        self._cache = IndexCache(self._dim)
        self._sweeper: threading.Thread | None = None
        self._sweeper_future: concurrent.futures.Future[None] | None = None
        self._stop = threading.Event()
        self._sweeper_lock = threading.Lock()
        self._warned = False
        interval = (ttl or {}).get("sweep_interval_minutes")
        if interval:
            self.start_ttl_sweeper(interval)

    def _configure_index(self, index: IndexConfig, fallback: Embedder | None) -> None:
        config = cast(IndexConfig, dict(index))
        dims = config.get("dims")
        if dims is not None and (not isinstance(dims, int) or dims <= 0):
            raise ConfigurationError(f"IndexConfig dims must be a positive int, got {dims!r}")
        distance = check_distance_type(config.get("distance_type"))
        embed = config.get("embed")
        embedder = unit_checked(_resolve_embed(embed, dims, fallback), embed, dims, distance)
        try:
            dim = embedder.dim  # may embed a probe text to learn it
        except EmbeddingError as exc:
            unwrap_non_unit(exc)
            raise
        if dims is not None and dim != dims:
            raise ConfigurationError(
                f"IndexConfig dims is {dims} but embedder {embedder.name!r} makes "
                f"{embedder.dim}-d vectors; set dims={embedder.dim} or pass another embed"
            )
        fields: Any = config.get("fields")
        if fields is None:  # SqliteStore's spelling of the same setting
            text_fields = cast(dict[str, Any], config).get("text_fields")
            fields = [text_fields] if isinstance(text_fields, str) else text_fields
        fields = fields or ["$"]
        if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
            raise ConfigurationError(f"IndexConfig fields must be a list of str, got {fields!r}")
        config["dims"] = embedder.dim
        config["fields"] = list(fields)
        cast(dict[str, Any], config)["distance_type"] = distance
        self.index_config = config
        self.distance_type = distance
        self.embedder = embedder
        self._fields = [(f, f if f == "$" else tokenize_path(f)) for f in fields]

    # --- lifecycle --------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or upgrade the tables (also done by the constructor; safe to repeat)."""
        self.schema_version = self.db.migrate(COMPONENT, migrations_for(self.db.dialect))

    def close(self) -> None:
        """Stop the TTL sweeper; close the database if this store opened it."""
        self.stop_ttl_sweeper()
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> AgentMemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> int:
        return int(self._clock() * _US)

    def _owner_of(self, namespace: tuple[str, ...]) -> str | None:
        """The user an item written now under ``namespace`` belongs to (see the class)."""
        if self.owner_label is None:
            return run_user_id()
        if len(namespace) <= self.owner_label:
            return None
        try:
            return check_id(namespace[self.owner_label], "owner label")
        except ValidationError:
            return None

    # --- BaseStore ----------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops``; reads see the state before the batch's puts (last put of a key wins)."""
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        reads: list[tuple[int, Op]] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for i, op in enumerate(ops):
            _check_op(op)
            if isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op
            else:
                reads.append((i, op))
        if reads:
            refresh = self._run_reads(reads, results)
            if refresh:
                self._refresh_ttl(refresh)
        if puts:
            self._write(list(puts.values()))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` in a worker thread."""
        return await asyncio.to_thread(self.batch, list(ops))

    # BaseStore's helpers check namespaces with LangGraph's own error and turn any key into
    # a string (None becomes "None"): check first, so every refusal is a ValidationError.

    def get(self, namespace: tuple[str, ...], key: str, **kwargs: Any) -> Item | None:
        _check_namespace(namespace)
        return super().get(namespace, _check_key(key), **kwargs)

    async def aget(self, namespace: tuple[str, ...], key: str, **kwargs: Any) -> Item | None:
        _check_namespace(namespace)
        return await super().aget(namespace, _check_key(key), **kwargs)

    def put(self, namespace: tuple[str, ...], key: str, *args: Any, **kwargs: Any) -> None:
        _check_namespace(namespace, root=True)
        super().put(namespace, _check_key(key), *args, **kwargs)

    async def aput(self, namespace: tuple[str, ...], key: str, *args: Any, **kwargs: Any) -> None:
        _check_namespace(namespace, root=True)
        await super().aput(namespace, _check_key(key), *args, **kwargs)

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        _check_namespace(namespace)
        super().delete(namespace, _check_key(key))

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        _check_namespace(namespace)
        await super().adelete(namespace, _check_key(key))

    def search(self, namespace_prefix: tuple[str, ...], /, **kwargs: Any) -> list[SearchItem]:
        _check_namespace(namespace_prefix, "namespace_prefix", allow_empty=True)
        return super().search(namespace_prefix, **kwargs)

    async def asearch(
        self, namespace_prefix: tuple[str, ...], /, **kwargs: Any
    ) -> list[SearchItem]:
        _check_namespace(namespace_prefix, "namespace_prefix", allow_empty=True)
        return await super().asearch(namespace_prefix, **kwargs)

    def list_namespaces(self, **kwargs: Any) -> list[tuple[str, ...]]:
        _check_namespace_paths(kwargs)
        return super().list_namespaces(**kwargs)

    async def alist_namespaces(self, **kwargs: Any) -> list[tuple[str, ...]]:
        _check_namespace_paths(kwargs)
        return await super().alist_namespaces(**kwargs)

    # --- reads ------------------------------------------------------------------------------

    def _run_reads(self, reads: list[tuple[int, Op]], results: list[Result]) -> list[int]:
        queries = {
            op.query
            for _, op in reads
            if isinstance(op, SearchOp) and op.query and self.embedder is not None
        }
        vectors = {q: self._embed_query(q) for q in queries}
        refresh: list[int] = []
        # Reads see items whose expiry is after ``now``: the present with omit_expired,
        # else the epoch start, so expired items stay readable until a sweep deletes them
        # (LangGraph's SqliteStore / PostgresStore behaviour).
        now = self._read_cutoff()
        with self.db.read() as cur:
            gets = [(i, op) for i, op in reads if isinstance(op, GetOp)]
            if gets:
                self._gets(cur, gets, now, results, refresh)
            for i, op in reads:
                if isinstance(op, SearchOp):
                    vector = vectors.get(op.query) if op.query else None
                    items, ttl_ids = self._search(cur, op, now, vector)
                    results[i] = items
                    if op.refresh_ttl:
                        refresh.extend(ttl_ids)
                elif isinstance(op, ListNamespacesOp):
                    results[i] = self._list_namespaces(cur, op, now)
        return refresh

    def _gets(
        self,
        cur: Cursor,
        gets: list[tuple[int, GetOp]],
        now: int,
        results: list[Result],
        refresh: list[int],
    ) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)
        for _, op in gets:
            wanted[_ns_text(op.namespace)].add(str(op.key))
        found: dict[tuple[str, str], Any] = {}
        for namespace, keys in wanted.items():
            for chunk in chunks(sorted(keys), _CHUNK):
                for row in cur.execute(
                    f"SELECT {_ITEM_COLUMNS} FROM langgraph_store_items WHERE namespace = ? "
                    f"AND key IN ({placeholders(len(chunk))}) AND {_NOT_EXPIRED}",
                    [namespace, *chunk, now],
                ).fetchall():
                    found[(namespace, str(row[2]))] = row
        items: dict[int, Item] = {}
        for i, op in gets:
            row = found.get((_ns_text(op.namespace), str(op.key)))
            if row is None:
                continue
            item_id = int(row[0])
            if item_id not in items:
                items[item_id] = self._item(row)
            results[i] = items[item_id]
            if op.refresh_ttl and row[6] is not None:
                refresh.append(item_id)

    @staticmethod
    def _item(row: Any) -> Item:
        return Item(
            value=json.loads(row[3]),
            key=str(row[2]),
            namespace=_ns_tuple(str(row[1])),
            created_at=_to_datetime(row[4]),
            updated_at=_to_datetime(row[5]),
        )

    @staticmethod
    def _search_item(row: Any, score: float | None) -> SearchItem:
        return SearchItem(
            namespace=_ns_tuple(str(row[1])),
            key=str(row[2]),
            value=json.loads(row[3]),
            created_at=_to_datetime(row[4]),
            updated_at=_to_datetime(row[5]),
            score=score,
        )

    def _listing(
        self, cur: Cursor, prefix: str, now: int, *, limit: int | None = None, offset: int = 0
    ) -> Iterator[Any]:
        """Live items under ``prefix``, most recently updated first."""
        where, params = _scope(prefix)
        sql = (
            f"SELECT {_ITEM_COLUMNS} FROM langgraph_store_items WHERE {where} AND {_NOT_EXPIRED} "
            "ORDER BY updated_at DESC, item_id DESC"
        )
        params.append(now)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([limit, offset])
        yield from cur.execute(sql, params).fetchall()

    def _search(
        self, cur: Cursor, op: SearchOp, now: int, vector: npt.NDArray[np.float32] | None
    ) -> tuple[list[SearchItem], list[int]]:
        limit, offset = max(0, int(op.limit)), max(0, int(op.offset))
        if limit == 0:
            return [], []
        prefix = _ns_text(op.namespace_prefix)
        terms = query_terms(op.query) if op.query else []
        ranked = vector is not None or (self.embedder is None and bool(terms))
        if not ranked:
            if not op.filter:
                rows = list(self._listing(cur, prefix, now, limit=limit, offset=offset))
            else:
                rows = self._filtered(self._listing(cur, prefix, now), op.filter, offset, limit)
            return [self._search_item(r, None) for r in rows], _ttl_ids(rows)

        allowed: npt.NDArray[np.int64] | None = None
        if op.filter:
            where, params = _scope(prefix)
            allowed = np.array(
                [
                    int(item_id)
                    for item_id, value in cur.execute(
                        f"SELECT item_id, value FROM langgraph_store_items WHERE {where} "
                        f"AND {_NOT_EXPIRED}",
                        [*params, now],
                    ).fetchall()
                    if _matches(json.loads(value), op.filter)
                ],
                dtype=np.int64,
            )
        index = self._index(cur)
        with self._cache.lock_for(_KEY):
            visible = index.visible(now, index.namespaces_under(prefix), allowed)
            if vector is not None:
                hits = self._rank_dense(index, visible, vector, terms, offset + limit)
            else:
                hits = self._rank_keywords(index, visible, terms)
        page = hits[offset : offset + limit]
        rows_by_id = self._rows_by_id(cur, [h.item_id for h in page], now)
        rows = [(rows_by_id[h.item_id], h.score) for h in page if h.item_id in rows_by_id]
        if len(rows) < limit and offset + limit > len(hits):
            # Every ranked item is in ``hits`` then. Items without indexed text (keyword-only:
            # without a match) follow, unscored, newest first.
            scored = {h.item_id for h in hits}
            skip = max(0, offset - len(hits))
            filler = (r for r in self._listing(cur, prefix, now) if int(r[0]) not in scored)
            rows.extend(
                (r, None) for r in self._filtered(filler, op.filter, skip, limit - len(rows))
            )
        return [self._search_item(r, s) for r, s in rows], _ttl_ids([r for r, _ in rows])

    @staticmethod
    def _filtered(
        rows: Iterable[Any], filter: Mapping[str, Any] | None, offset: int, limit: int
    ) -> list[Any]:
        out: list[Any] = []
        skipped = 0
        for row in rows:
            if len(out) >= limit:
                break
            if filter and not _matches(json.loads(row[3]), filter):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(row)
        return out

    def _rows_by_id(self, cur: Cursor, ids: Sequence[int], now: int) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for chunk in chunks(ids, _CHUNK):
            for row in cur.execute(
                f"SELECT {_ITEM_COLUMNS} FROM langgraph_store_items WHERE item_id IN "
                f"({placeholders(len(chunk))}) AND {_NOT_EXPIRED}",
                [*chunk, now],
            ).fetchall():
                found[int(row[0])] = row
        return found

    def _list_namespaces(
        self, cur: Cursor, op: ListNamespacesOp, now: int
    ) -> list[tuple[str, ...]]:
        conditions = tuple(
            MatchCondition(c.match_type, tuple(c.path)) for c in op.match_conditions or ()
        )
        narrow = ""
        for condition in conditions:
            if condition.match_type == "prefix":
                fixed = []
                for label in condition.path:
                    if label == "*":
                        break
                    fixed.append(label)
                if fixed:
                    narrow = _ns_text(fixed)
                    break
        where, params = _scope(narrow)
        rows = cur.execute(
            f"SELECT DISTINCT namespace FROM langgraph_store_items WHERE {where} "
            f"AND {_NOT_EXPIRED}",
            [*params, now],
        ).fetchall()
        namespaces = [_ns_tuple(str(r[0])) for r in rows]
        namespaces = [ns for ns in namespaces if all(_does_match(c, ns) for c in conditions)]
        if op.max_depth is not None:
            found = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            found = sorted(namespaces)
        start = max(0, int(op.offset))
        return found[start : start + max(0, int(op.limit))]

    # --- the in-memory index ------------------------------------------------------------------

    def _prepare(self, ops: list[PutOp]) -> tuple[list[_Put], dict[str, list[str]]]:
        """The puts (serialised, with their texts to index and owner) and the deletes."""
        puts: list[_Put] = []
        deletes: dict[str, list[str]] = defaultdict(list)
        for op in ops:
            namespace, key = _ns_text(op.namespace), str(op.key)
            if op.value is None:
                deletes[namespace].append(key)
                continue
            value = dict(op.value)
            index = op.index
            if index is not None and index is not False:
                index = [str(p) for p in index]
            puts.append(
                _Put(
                    namespace,
                    key,
                    _dumps(value),
                    None if index is None else json.dumps(index),
                    None if op.ttl is None else float(op.ttl),
                    self._texts(value, index),
                    self._owner_of(op.namespace),
                )
            )
        return puts, deletes

    def _write(self, ops: list[PutOp]) -> None:
        """Apply puts and deletes in one transaction, then to this process's index."""
        puts, deletes = self._prepare(ops)
        vectors = self._embed_texts(text for put in puts for _, text in put.texts)
        now = self._now()
        removed: list[int] = []
        added: list[_TextRow] = []
        with self.db.transaction() as cur:
            version, name, dim = self._bump(cur)
            if vectors:
                self._claim_embedder(cur, name, dim)
            elif puts and name is not None and self.embedder is None:
                self._warn_unindexed(name)
            for namespace, keys in deletes.items():
                removed.extend(self._delete_keys(cur, namespace, keys))
            for put in puts:
                item_id, rows = self._upsert(cur, put, vectors, version, now)
                removed.append(item_id)
                added.extend(rows)
            if len(removed) > len(puts):  # some deletes found their item
                cur.execute(
                    "UPDATE langgraph_store_state SET reset_version = ? WHERE id = 1", (version,)
                )
        self._apply_local(version - 1, version, drop=removed, add=added)

    def _warn_unindexed(self, name: str) -> None:
        if self._warned:
            return
        self._warned = True
        logger.warning(
            "this AgentMemoryStore has no index config, but %s holds vectors from embedder "
            "%r: items it puts are not semantically searchable. Open every store on a "
            "database with the same index config (or call reindex() from one that has it)",
            self.db.location,
            name,
        )

    @staticmethod
    def _delete_keys(cur: Cursor, namespace: str, keys: list[str]) -> list[int]:
        """Delete ``keys`` of ``namespace``; the ids of the items that existed."""
        removed: list[int] = []
        for chunk in chunks(keys, _CHUNK):
            removed.extend(
                int(r[0])
                for r in cur.execute(
                    "DELETE FROM langgraph_store_items WHERE namespace = ? AND key IN "
                    f"({placeholders(len(chunk))}) RETURNING item_id",
                    [namespace, *chunk],
                ).fetchall()
            )
        return removed

    def _upsert(
        self,
        cur: Cursor,
        put: _Put,
        vectors: Mapping[str, npt.NDArray[np.float32]],
        version: int,
        now: int,
    ) -> tuple[int, list[_TextRow]]:
        """Write one item and its indexed texts; its id and the rows for the index."""
        expires = None if put.ttl is None else now + int(put.ttl * 60 * _US)
        item_id = int(
            cur.execute(
                "INSERT INTO langgraph_store_items (namespace, key, value, index_fields, "
                "created_at, updated_at, expires_at, ttl_minutes, version, vectors_version, "
                "owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
                "owner = COALESCE(langgraph_store_items.owner, excluded.owner), "
                "index_fields = excluded.index_fields, updated_at = excluded.updated_at, "
                "expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes, "
                "version = excluded.version, vectors_version = excluded.vectors_version "
                "RETURNING item_id",
                (
                    put.namespace,
                    put.key,
                    put.value,
                    put.index_fields,
                    now,
                    now,
                    expires,
                    put.ttl,
                    version,
                    version,
                    put.owner,
                ),
            ).fetchone()[0]
        )
        cur.execute("DELETE FROM langgraph_store_vectors WHERE item_id = ?", (item_id,))
        if not put.texts:
            return item_id, []
        cur.executemany(
            "INSERT INTO langgraph_store_vectors (item_id, field, text, version, embedding) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (
                    item_id,
                    field,
                    text,
                    version,
                    self._vector_param(vectors[text]) if vectors else None,
                )
                for field, text in put.texts
            ],
        )
        rows = [
            _TextRow(
                item_id,
                put.namespace,
                expires,
                text,
                vectors[text].tobytes() if vectors else _NO_VECTOR,
            )
            for _, text in put.texts
        ]
        return item_id, rows


def _ttl_ids(rows: Sequence[Any]) -> list[int]:
    return [int(r[0]) for r in rows if r[6] is not None]
