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
:func:`~memory_integrations.retrieval.hybrid_rank` (min-max fusion of cosine and BM25, no
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
import math
import operator
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    get_text_at_path,
    tokenize_path,
)

from ..embedders import (
    Embedder,
    LangChainEmbedder,
    default_embedder,
    resolve_embedder,
)
from ..errors import ConfigurationError, EmbedderMismatchError, EmbeddingError, ValidationError
from ..retrieval import IndexCache, IndexEntry, RankingConfig, SearchIndex, hybrid_rank, query_terms
from ..storage import (
    DIALECT_TYPES,
    Cursor,
    SqlDatabase,
    chunks,
    database_of,
    placeholders,
    render_migrations,
)
from ..validation import check_id
from ._owner import run_user_id

__all__ = ["COMPONENT", "MIGRATIONS", "AgentMemoryStore", "migrations_for"]

logger = logging.getLogger(__name__)

COMPONENT = "langgraph_store"

# ``{serial}``, ``{collate}``, ``{vector}`` are the types that differ by dialect (storage's
# ``render_migrations`` fills them in).
MIGRATIONS: list[str] = [
    """
CREATE TABLE langgraph_store_state (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL,
    reset_version BIGINT NOT NULL,
    embedder_name TEXT,
    embedder_dim INTEGER
);
INSERT INTO langgraph_store_state (id, version, reset_version) VALUES (1, 0, 0);
CREATE TABLE langgraph_store_items (
    item_id {serial},
    namespace TEXT{collate} NOT NULL,
    key TEXT{collate} NOT NULL,
    value TEXT NOT NULL,
    index_fields TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT,
    ttl_minutes DOUBLE PRECISION,
    version BIGINT NOT NULL,
    vectors_version BIGINT NOT NULL,
    UNIQUE (namespace, key)
);
CREATE INDEX langgraph_store_items_updated ON langgraph_store_items (namespace, updated_at);
CREATE INDEX langgraph_store_items_version ON langgraph_store_items (version);
CREATE INDEX langgraph_store_items_expires
    ON langgraph_store_items (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE langgraph_store_vectors (
    vector_id {serial},
    item_id BIGINT NOT NULL REFERENCES langgraph_store_items (item_id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    text TEXT NOT NULL,
    version BIGINT NOT NULL,
    embedding {vector}
);
CREATE INDEX langgraph_store_vectors_item ON langgraph_store_vectors (item_id);
CREATE INDEX langgraph_store_vectors_version ON langgraph_store_vectors (version);
""",
    # v2: the user an item belongs to, recorded when it is written (see ``_owner``); what
    # ``erase`` removes.
    """
ALTER TABLE langgraph_store_items ADD COLUMN owner TEXT;
CREATE INDEX langgraph_store_items_owner ON langgraph_store_items (owner) WHERE owner IS NOT NULL;
""",
]


def migrations_for(dialect: str) -> list[str]:
    """The migration scripts rendered for ``dialect`` (``"sqlite"`` or ``"postgres"``)."""
    return render_migrations(MIGRATIONS, dialect)


_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK = 500  # ids per IN (...) list
_KEY = "store"  # the one entry this store keeps in its IndexCache
_NO_VECTOR = np.zeros(1, np.float32).tobytes()  # the dummy "embedding" of keyword-only rows
_ITEM_COLUMNS = "item_id, namespace, key, value, created_at, updated_at, ttl_minutes"
_NOT_EXPIRED = "(expires_at IS NULL OR expires_at > ?)"
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}

Ranking = Literal["hybrid", "vector"]


# --- small helpers ------------------------------------------------------------------------


def _to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _ns_text(namespace: Sequence[str]) -> str:
    return ".".join(namespace)


def _ns_tuple(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def _scope(prefix: str) -> tuple[str, list[Any]]:
    """SQL for "namespace is ``prefix`` or below it" (whole labels; '/' sorts right after '.')."""
    if not prefix:
        return "1 = 1", []
    return "(namespace = ? OR (namespace >= ? AND namespace < ?))", [
        prefix,
        prefix + ".",
        prefix + "/",
    ]


def _dumps(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"store values must be JSON-serializable mappings: {exc}; convert the value "
            "(e.g. datetimes to ISO strings) before put()"
        ) from None
    _check_store_text(text, "the value")
    return text


class InvalidStoreNamespaceError(ValidationError, InvalidNamespaceError):
    """A namespace that is not a tuple of non-empty string labels without periods."""


_MAX_LABEL = 1024
_MAX_TTL_MINUTES = 100 * 365 * 24 * 60.0
_MAX_PAGE = 100_000


def _check_store_text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not valid UTF-8 text (lone surrogate at position {exc.start})"
        ) from None
    if "\x00" in value:
        raise ValidationError(f"{what} contains a NUL character; remove it")


def _check_namespace(
    namespace: object, what: str = "namespace", *, allow_empty: bool = False, root: bool = False
) -> tuple[str, ...]:
    """A namespace as a tuple of labels: not a bare string, no empty labels or periods;
    with ``root``, a namespace a put may write (not under the reserved "langgraph")."""
    if isinstance(namespace, (str, bytes)) or not isinstance(namespace, (tuple, list)):
        raise InvalidStoreNamespaceError(
            f"{what} must be a tuple of strings such as ('memories', user_id), got "
            f"{type(namespace).__name__} {namespace!r:.60}"
        )
    if not namespace and not allow_empty:
        raise InvalidStoreNamespaceError(f"{what} cannot be empty")
    for label in namespace:
        if not isinstance(label, str) or not label:
            raise InvalidStoreNamespaceError(
                f"{what} labels must be non-empty strings, got {label!r:.60}"
            )
        if "." in label:
            raise InvalidStoreNamespaceError(
                f"{what} label {label!r:.60} contains a period; periods separate labels"
            )
        if len(label) > _MAX_LABEL:
            raise InvalidStoreNamespaceError(
                f"{what} label is {len(label)} characters; the maximum is {_MAX_LABEL}"
            )
        try:
            _check_store_text(label, f"{what} label")
        except ValidationError as exc:
            raise InvalidStoreNamespaceError(str(exc)) from None
    if root and namespace and namespace[0] == "langgraph":
        raise InvalidStoreNamespaceError(f'{what} cannot start with "langgraph" (reserved)')
    return tuple(namespace)


def _check_key(key: object) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)  # LangGraph stringifies keys
    if not isinstance(key, str):
        raise ValidationError(f"store keys are strings, got {type(key).__name__} {key!r:.60}")
    if len(key) > _MAX_LABEL:
        raise ValidationError(f"the key is {len(key)} characters; the maximum is {_MAX_LABEL}")
    _check_store_text(key, "the key")
    return key


def _check_namespace_paths(kwargs: Mapping[str, Any]) -> None:
    for name in ("prefix", "suffix"):
        if kwargs.get(name) is not None:
            _check_namespace(kwargs[name], name, allow_empty=True)


def _check_ttl_minutes(ttl: object) -> None:
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl):
        raise ValidationError(f"ttl is a number of minutes (or None), got {ttl!r}")
    if not 0 < ttl <= _MAX_TTL_MINUTES:
        raise ValidationError(
            f"ttl must be more than 0 and at most 100 years in minutes, got {ttl!r}; use "
            "None for items that never expire"
        )


def _check_ttl_config(ttl: object) -> TTLConfig | None:
    """LangGraph's ``TTLConfig``, its numbers checked (minutes; bools are not numbers)."""
    if not ttl:
        return None
    if not isinstance(ttl, Mapping):
        raise ConfigurationError(f"ttl is a TTLConfig dict, got {type(ttl).__name__}")
    unknown = set(ttl) - {"default_ttl", "refresh_on_read", "sweep_interval_minutes"}
    if unknown:
        raise ConfigurationError(f"unknown TTLConfig key(s) {sorted(unknown)}")
    _check_ttl_minutes(ttl.get("default_ttl"))
    _check_ttl_minutes(ttl.get("sweep_interval_minutes"))
    refresh = ttl.get("refresh_on_read")
    if refresh is not None and not isinstance(refresh, bool):
        raise ConfigurationError(f"refresh_on_read must be True or False, got {refresh!r}")
    return cast(TTLConfig, dict(ttl))


def _check_page(value: object, what: str, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= _MAX_PAGE:
        raise ValidationError(f"{what} must be a whole number from {low} to {_MAX_PAGE}")


def _check_op(op: Op) -> None:
    """Refuse an operation whose arguments the store cannot honour, before any work."""
    if isinstance(op, PutOp):
        _check_namespace(op.namespace)
        _check_key(op.key)
        if op.value is not None and not isinstance(op.value, Mapping):
            raise ValidationError(
                f"put() values are mappings (dicts), got {type(op.value).__name__}"
            )
        if (
            op.index is not None
            and op.index is not False
            and (isinstance(op.index, str) or not all(isinstance(f, str) for f in op.index))
        ):
            raise ValidationError("index must be False, None or a list of field paths")
        _check_ttl_minutes(op.ttl)
    elif isinstance(op, GetOp):
        _check_namespace(op.namespace)
        _check_key(op.key)
    elif isinstance(op, SearchOp):
        _check_namespace(op.namespace_prefix, "namespace_prefix", allow_empty=True)
        if op.query is not None:
            if not isinstance(op.query, str):
                raise ValidationError(f"query must be a string, got {type(op.query).__name__}")
            _check_store_text(op.query, "the query")
        if op.filter is not None:
            if not isinstance(op.filter, Mapping):
                raise ValidationError(f"filter must be a dict, got {type(op.filter).__name__}")
            _dumps(op.filter)  # JSON text UTF-8 can encode, like the values it compares
        _check_page(op.limit, "limit")
        _check_page(op.offset, "offset")
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            _check_namespace(condition.path, "match condition path", allow_empty=True)
        _check_page(op.limit, "limit")
        _check_page(op.offset, "offset")
        if op.max_depth is not None:
            _check_page(op.max_depth, "max_depth", 1)
    else:
        raise ValidationError(f"Unknown operation type: {type(op).__name__}")


def _leaf_text(value: Any) -> str:
    """The string and number leaves of a JSON value, space-joined (keyword-only indexing)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, bool) or node is None:
            return
        elif isinstance(node, int | float):
            parts.append(str(node))
        elif isinstance(node, Mapping):
            for child in node.values():
                walk(child)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)

    walk(value)
    return " ".join(parts)


# --- filters (the semantics of InMemoryStore, without its exceptions) ----------------------


def _lookup(value: Mapping[str, Any], key: str) -> Any:
    """``value[key]``; a dotted key not present as such walks nested objects."""
    if key in value:
        return value[key]
    if "." in key:
        node: Any = value
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node
    return None


def _orderable(left: Any, right: Any) -> tuple[Any, Any] | None:
    try:
        return float(left), float(right)
    except (TypeError, ValueError):
        if isinstance(left, str) and isinstance(right, str):
            return left, right
        return None


def _apply_operator(value: Any, name: str, argument: Any) -> bool:
    if name == "$eq":
        return bool(value == argument)
    if name == "$ne":
        return bool(value != argument)
    compare = _ORDERINGS.get(name)
    if compare is None:
        raise ValidationError(
            f"unsupported filter operator {name!r}; use $eq, $ne, $gt, $gte, $lt or $lte"
        )
    pair = _orderable(value, argument)
    return pair is not None and compare(*pair)


def _compare(value: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        if any(str(k).startswith("$") for k in expected):
            return all(_apply_operator(value, op, arg) for op, arg in expected.items())
        if not isinstance(value, Mapping):
            return False
        return all(_compare(value.get(k), v) for k, v in expected.items())
    if isinstance(expected, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(expected)
            and all(_compare(a, b) for a, b in zip(value, expected, strict=True))
        )
    return bool(value == expected)


def _matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    if not filter:
        return True
    return all(_compare(_lookup(value, key), expected) for key, expected in filter.items())


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValidationError(f"unsupported match type {condition.match_type!r}")
    return all(want == "*" or have == want for have, want in pairs)


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


# --- the in-memory index ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """One indexed text of an item, as the in-memory index needs it."""

    item_id: int
    namespace: str
    expires_at: int | None
    text: str
    embedding: bytes


class _ItemIndex(SearchIndex):
    """A SearchIndex over store rows: ``seqs`` hold item ids, sessions are namespaces.

    Rows of replaced or deleted items are tombstoned by setting their expiry to 0 (never
    visible); the index is rebuilt when tombstones outnumber live rows.
    """

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.rows_of: dict[int, list[int]] = {}
        self.dead = 0
        self._under: dict[str, list[str]] = {}
        self._under_stamp = 0

    @property
    def needs_rebuild(self) -> bool:
        return self.dead > 1024 and self.dead > self.size - self.dead

    def add(self, rows: Sequence[_Row]) -> None:
        start = self.size
        self.append(
            [
                IndexEntry(r.item_id, r.namespace, r.expires_at, False, r.text, r.embedding)
                for r in rows
            ]
        )
        for offset, row in enumerate(rows):
            self.rows_of.setdefault(row.item_id, []).append(start + offset)

    def drop(self, item_id: int) -> None:
        positions = self.rows_of.pop(item_id, None)
        if positions:
            self.expires[positions] = 0
            self.dead += len(positions)

    def set_expiry(self, item_id: int, expires_at: int | None) -> None:
        positions = self.rows_of.get(item_id)
        if positions:
            self.expires[positions] = -1 if expires_at is None else expires_at

    def namespaces_under(self, prefix: str) -> list[str] | None:
        """The known namespaces equal to or below ``prefix`` (None: no restriction)."""
        if not prefix:
            return None
        if self._under_stamp != len(self.session_codes) or len(self._under) > 4096:
            self._under.clear()
            self._under_stamp = len(self.session_codes)
        found = self._under.get(prefix)
        if found is None:
            below = prefix + "."
            found = [ns for ns in self.session_codes if ns == prefix or ns.startswith(below)]
            self._under[prefix] = found
        return found


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


@dataclass
class _Hit:
    item_id: int
    score: float | None


# --- the store ----------------------------------------------------------------------------


class AgentMemoryStore(BaseStore):
    """LangGraph ``BaseStore`` kept in the memory engine's database (SQLite or PostgreSQL).

    ``client_or_db`` is an ``AgentMemoryClient`` / ``AsyncAgentMemoryClient`` with an
    embedded backend, an ``SqlDatabase``, or a SQLite path / ``postgresql://`` URL (then the
    store opens the database itself and ``close()`` closes it). Items live in their own
    tables next to the agent memory.

    ``index`` is LangGraph's ``IndexConfig`` (``dims``, ``embed``, ``fields``): with it,
    ``search(query=...)`` ranks the indexed texts by hybrid relevance (cosine similarity fused
    with BM25, so an exact query word helps), and ``SearchItem.score`` is the cosine
    similarity of the item's best-matching text; ``ranking="vector"`` orders by that score
    alone, exactly like ``InMemoryStore``. Without ``embed`` the client's embedder is used
    (the local default embedder for a bare database). Without ``index``, a query ranks items
    by BM25 over their text (score: BM25 relative to the best match); items without a match,
    or without indexed text, follow with ``score=None``.

    ``ttl`` is LangGraph's ``TTLConfig``: ``default_ttl`` (minutes), ``refresh_on_read``,
    ``sweep_interval_minutes`` (starts a background sweeper; ``close()`` stops it).
    Expired items are never returned, even before ``sweep_ttl()`` deletes them.

    Every item records the user it belongs to when it is written, which is what
    ``memory_integrations.lifecycle.erase_user`` removes: with ``owner_label=n``, the user
    named by label ``n`` of the item's namespace (e.g. ``owner_label=1`` for
    ``("memories", user_id)``); otherwise the ``user_id`` of the graph run that writes it
    (``config["configurable"]["user_id"]`` or the run context's ``user_id``). A namespace
    label that merely equals a user id does not make an item theirs.

    ``abatch`` runs ``batch`` in a worker thread. ``clock`` returns epoch seconds (tests).
    """

    supports_ttl: bool = True

    def __init__(
        self,
        client_or_db: Any,
        *,
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
        embedder = _resolve_embed(config.get("embed"), dims, fallback)
        if dims is not None and embedder.dim != dims:
            raise ConfigurationError(
                f"IndexConfig dims is {dims} but embedder {embedder.name!r} makes "
                f"{embedder.dim}-d vectors; set dims={embedder.dim} or pass another embed"
            )
        fields = config.get("fields") or ["$"]
        if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
            raise ConfigurationError(f"IndexConfig fields must be a list of str, got {fields!r}")
        config["dims"] = embedder.dim
        config["fields"] = list(fields)
        self.index_config = config
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

    # --- ownership ----------------------------------------------------------------------------

    def count_owned_by(self, user_id: str) -> int:
        """How many live or expired items belong to ``user_id``."""
        check_id(user_id, "user_id")
        with self.db.read() as cur:
            row = cur.execute(
                "SELECT count(*) FROM langgraph_store_items WHERE owner = ?", (user_id,)
            ).fetchone()
        return int(row[0])

    def delete_owned_by(self, user_id: str) -> int:
        """Delete every item that belongs to ``user_id``; returns how many."""
        check_id(user_id, "user_id")
        return self._delete_where("owner = ?", [user_id])

    def delete_under(self, namespace_prefix: tuple[str, ...]) -> int:
        """Delete every item in ``namespace_prefix`` and below it; returns how many."""
        prefix = _check_namespace(namespace_prefix, "namespace_prefix")
        where, params = _scope(_ns_text(prefix))
        return self._delete_where(where, params)

    def namespaces_with_label(self, label: str) -> list[tuple[str, ...]]:
        """Namespaces (of live items) that have ``label`` as one of their labels."""
        now = self._now()
        with self.db.read() as cur:
            rows = cur.execute(
                f"SELECT DISTINCT namespace FROM langgraph_store_items WHERE {_NOT_EXPIRED}",
                (now,),
            ).fetchall()
        return sorted(ns for ns in (_ns_tuple(str(r[0])) for r in rows) if label in ns)

    def _delete_where(self, where: str, params: list[Any]) -> int:
        with self.db.transaction() as cur:
            ids = [
                int(r[0])
                for r in cur.execute(
                    f"DELETE FROM langgraph_store_items WHERE {where} RETURNING item_id", params
                ).fetchall()
            ]
            if ids:
                version, _, _ = self._bump(cur)
                cur.execute(
                    "UPDATE langgraph_store_state SET reset_version = ? WHERE id = 1", (version,)
                )
        return len(ids)

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
        now = self._now()
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

    def _embed_query(self, query: str) -> npt.NDArray[np.float32]:
        assert self.embedder is not None
        vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._dim:
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned a {vector.shape[0]}-d query vector, "
                f"expected {self._dim}"
            )
        return vector

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

    def _rank_dense(
        self,
        index: _ItemIndex,
        visible: npt.NDArray[np.int64],
        vector: npt.NDArray[np.float32],
        terms: list[str],
        needed: int,
    ) -> list[_Hit]:
        """Visible items in hybrid (or cosine) order: at least ``needed`` of them, or all.

        The score of a hit is the best cosine similarity among the item's texts.
        """
        if visible.size == 0:
            return []
        dense = index.dense(vector, visible)
        keyword = index.keywords.scores(terms) if self.ranking == "hybrid" and terms else None
        neighbours = index.neighbours()
        k = needed
        while True:
            config = RankingConfig(
                depth=max(RankingConfig().depth, k), previous_weight=0.0, next_weight=0.0
            )
            order: dict[int, None] = {}
            for position, _, _ in hybrid_rank(
                visible, dense, keyword, neighbours, k, config=config
            ):
                order.setdefault(int(index.seqs[position]), None)
            if len(order) >= needed or k >= visible.size:
                break
            k = min(int(visible.size), 2 * k)
        hits = []
        for item_id in order:
            positions = np.asarray(index.rows_of.get(item_id, ()), dtype=np.int64)
            score = float(dense.of(positions).max()) if positions.size else None
            hits.append(_Hit(item_id, score))
        if self.ranking == "vector":  # equal fused scores: keep cosine order exact
            hits.sort(key=lambda h: -(h.score if h.score is not None else -np.inf))
        return hits

    @staticmethod
    def _rank_keywords(
        index: _ItemIndex, visible: npt.NDArray[np.int64], terms: list[str]
    ) -> list[_Hit]:
        """Visible items with a BM25 match, best first (score relative to the best)."""
        scores = index.keywords.scores(terms)
        if scores is None or visible.size == 0:
            return []
        matched = visible[scores[visible] > 0]
        if matched.size == 0:
            return []
        values = scores[matched]
        order = np.argsort(-values, kind="stable")
        ids = index.seqs[matched][order]
        values = values[order]
        _, first = np.unique(ids, return_index=True)
        first.sort()
        best = float(values[first[0]])
        return [_Hit(int(ids[j]), float(values[j]) / best) for j in first]

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

    def _state(self, cur: Cursor) -> tuple[int, int, str | None, int | None]:
        row = cur.execute(
            "SELECT version, reset_version, embedder_name, embedder_dim "
            "FROM langgraph_store_state WHERE id = 1"
        ).fetchone()
        return int(row[0]), int(row[1]), row[2], None if row[3] is None else int(row[3])

    def _mismatch(self, name: str | None, dim: int | None) -> EmbedderMismatchError | None:
        if self.embedder is None or name is None:
            return None
        if name == self.embedder.name and dim == self._dim:
            return None
        return EmbedderMismatchError(
            f"the LangGraph store in {self.db.location} holds vectors from embedder {name!r} "
            f"({dim}-d), but this store uses {self.embedder.name!r} ({self._dim}-d). Pass the "
            "same embed in the index config, or call store.reindex() to re-embed every item"
        )

    @staticmethod
    def _has_vectors(cur: Cursor) -> bool:
        return (
            cur.execute(
                "SELECT 1 FROM langgraph_store_vectors WHERE embedding IS NOT NULL LIMIT 1"
            ).fetchone()
            is not None
        )

    def _entry(self) -> _ItemIndex | None:
        return cast("_ItemIndex | None", self._cache.get(_KEY))

    def _index(self, cur: Cursor) -> _ItemIndex:
        """The search index, brought up to date with the database."""
        version, reset, name, dim = self._state(cur)
        mismatch = self._mismatch(name, dim)
        if mismatch is not None and self._has_vectors(cur):
            raise mismatch
        with self._cache.lock_for(_KEY):
            entry = self._entry()
            if entry is None or reset > entry.version or entry.needs_rebuild:
                entry = _ItemIndex(self._dim)
                entry.add(self._load_rows(cur, None, {}))
            elif version > entry.version:
                changed: dict[int, tuple[str, int | None]] = {}
                for item_id, namespace, expires_at, vectors_version in cur.execute(
                    "SELECT item_id, namespace, expires_at, vectors_version "
                    "FROM langgraph_store_items WHERE version > ?",
                    (entry.version,),
                ).fetchall():
                    if int(vectors_version) > entry.version:
                        entry.drop(int(item_id))
                        changed[int(item_id)] = (str(namespace), expires_at)
                    else:
                        entry.set_expiry(int(item_id), expires_at)
                entry.add(self._load_rows(cur, entry.version, changed))
            else:
                return entry
            entry.version = version
            self._cache.put(_KEY, entry)
            return entry

    def _load_rows(
        self, cur: Cursor, after: int | None, items: dict[int, tuple[str, int | None]]
    ) -> list[_Row]:
        """Index rows: all of them (``after`` None) or those of ``items`` newer than ``after``."""
        vectors = self.embedder is not None
        embedding = "v.embedding" if vectors else "NULL"
        where = ["v.embedding IS NOT NULL"] if vectors else []
        params: list[Any] = []
        if after is not None:
            where.append("v.version > ?")
            params.append(after)
        sql = (
            f"SELECT v.item_id, i.namespace, i.expires_at, v.text, {embedding} "
            "FROM langgraph_store_vectors v JOIN langgraph_store_items i "
            "ON i.item_id = v.item_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY v.vector_id"
        rows = []
        for item_id, namespace, expires_at, text, blob in cur.execute(sql, params):
            if after is not None:
                meta = items.get(int(item_id))
                if meta is None:  # committed after this refresh began: next time
                    continue
                namespace, expires_at = meta
            rows.append(
                _Row(
                    int(item_id),
                    str(namespace),
                    expires_at,
                    str(text),
                    self._vector_bytes(blob) if vectors else _NO_VECTOR,
                )
            )
        return rows

    def _vector_bytes(self, value: Any) -> bytes:
        if isinstance(value, bytes | memoryview):
            data = bytes(value)
        else:
            if hasattr(value, "to_numpy"):  # pgvector's Vector
                value = value.to_numpy()
            data = np.asarray(value, dtype=np.float32).tobytes()
        if len(data) != self._dim * 4:
            raise EmbedderMismatchError(
                f"a stored store vector has {len(data) // 4} dimensions, this store expects "
                f"{self._dim}; call store.reindex()"
            )
        return data

    def _vector_param(self, vector: npt.NDArray[np.float32]) -> Any:
        return vector if self._postgres else vector.tobytes()

    def _apply_local(
        self,
        before: int,
        after: int,
        *,
        drop: Iterable[int] = (),
        add: Sequence[_Row] = (),
        expiry: Mapping[int, int | None] | None = None,
    ) -> None:
        """Apply this process's committed write to its index when nothing came in between."""
        with self._cache.lock_for(_KEY):
            entry = self._entry()
            if entry is None or entry.version != before:
                return  # the next search catches up from the database
            for item_id in drop:
                entry.drop(item_id)
            entry.add(add)
            for item_id, expires_at in (expiry or {}).items():
                entry.set_expiry(item_id, expires_at)
            entry.version = after

    @staticmethod
    def _bump(cur: Cursor) -> tuple[int, str | None, int | None]:
        row = cur.execute(
            "UPDATE langgraph_store_state SET version = version + 1 WHERE id = 1 "
            "RETURNING version, embedder_name, embedder_dim"
        ).fetchone()
        return int(row[0]), row[1], None if row[2] is None else int(row[2])

    # --- writes -----------------------------------------------------------------------------

    def _texts(
        self, value: Mapping[str, Any], index: Literal[False] | list[str] | None
    ) -> list[tuple[str, str]]:
        """The (field, text) pairs a put indexes."""
        if index is False:
            return []
        if index is None and self.embedder is None:
            text = _leaf_text(value)
            return [("$", text)] if text.strip() else []
        if index is None:
            paths = self._fields
        else:
            paths = [(p, p if p == "$" else tokenize_path(p)) for p in index]
        out: list[tuple[str, str]] = []
        for path, tokens in paths:
            texts = get_text_at_path(value, tokens)
            if len(texts) > 1:
                out.extend((f"{path}.{i}", text) for i, text in enumerate(texts))
            elif texts:
                out.append((path, texts[0]))
        return out

    def _embed_texts(self, texts: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        if self.embedder is None:
            return {}
        unique = list(dict.fromkeys(texts))
        if not unique:
            return {}
        matrix = np.asarray(self.embedder.embed_documents(unique), dtype=np.float32)
        if matrix.shape != (len(unique), self._dim):
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned shape {matrix.shape} for "
                f"{len(unique)} texts, expected ({len(unique)}, {self._dim})"
            )
        return dict(zip(unique, np.ascontiguousarray(matrix), strict=True))

    def _claim_embedder(self, cur: Cursor, name: str | None, dim: int | None) -> None:
        """Record this store's embedder as the vectors' embedder (inside a write)."""
        if self.embedder is None:
            return
        mismatch = self._mismatch(name, dim)
        if mismatch is not None and self._has_vectors(cur):
            raise mismatch
        if mismatch is not None or name is None:
            cur.execute(
                "UPDATE langgraph_store_state SET embedder_name = ?, embedder_dim = ? WHERE id = 1",
                (self.embedder.name, self._dim),
            )

    def _write(self, ops: list[PutOp]) -> None:
        now = self._now()
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
        vectors = self._embed_texts(text for put in puts for _, text in put.texts)
        removed: list[int] = []
        added: list[_Row] = []
        with self.db.transaction() as cur:
            version, name, dim = self._bump(cur)
            if vectors:
                self._claim_embedder(cur, name, dim)
            elif puts and name is not None and self.embedder is None and not self._warned:
                self._warned = True
                logger.warning(
                    "this AgentMemoryStore has no index config, but %s holds vectors from "
                    "embedder %r: items it puts are not semantically searchable. Open every "
                    "store on a database with the same index config (or call reindex() from "
                    "one that has it)",
                    self.db.location,
                    name,
                )
            for namespace, keys in deletes.items():
                for chunk in chunks(keys, _CHUNK):
                    removed.extend(
                        int(r[0])
                        for r in cur.execute(
                            "DELETE FROM langgraph_store_items WHERE namespace = ? AND key IN "
                            f"({placeholders(len(chunk))}) RETURNING item_id",
                            [namespace, *chunk],
                        ).fetchall()
                    )
            for put in puts:
                expires = None if put.ttl is None else now + int(put.ttl * 60 * _US)
                item_id = int(
                    cur.execute(
                        "INSERT INTO langgraph_store_items (namespace, key, value, index_fields, "
                        "created_at, updated_at, expires_at, ttl_minutes, version, "
                        "vectors_version, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                removed.append(item_id)
                cur.execute("DELETE FROM langgraph_store_vectors WHERE item_id = ?", (item_id,))
                if put.texts:
                    cur.executemany(
                        "INSERT INTO langgraph_store_vectors (item_id, field, text, version, "
                        "embedding) VALUES (?, ?, ?, ?, ?)",
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
                    added.extend(
                        _Row(
                            item_id,
                            put.namespace,
                            expires,
                            text,
                            vectors[text].tobytes() if vectors else _NO_VECTOR,
                        )
                        for _, text in put.texts
                    )
            if len(removed) > len(puts):  # some deletes found their item
                cur.execute(
                    "UPDATE langgraph_store_state SET reset_version = ? WHERE id = 1", (version,)
                )
        self._apply_local(version - 1, version, drop=removed, add=added)

    def _refresh_ttl(self, item_ids: Sequence[int]) -> None:
        """Restart the TTL clock of the items read (those that have a TTL)."""
        now = self._now()
        expiry: dict[int, int | None] = {}
        with self.db.transaction() as cur:
            version, _, _ = self._bump(cur)
            for chunk in chunks(sorted(set(item_ids)), _CHUNK):
                for item_id, expires_at in cur.execute(
                    "UPDATE langgraph_store_items SET expires_at = ? + "
                    "CAST(ttl_minutes * 60000000 AS BIGINT), version = ? WHERE item_id IN "
                    f"({placeholders(len(chunk))}) AND ttl_minutes IS NOT NULL AND "
                    f"{_NOT_EXPIRED} RETURNING item_id, expires_at",
                    [now, version, *chunk, now],
                ).fetchall():
                    expiry[int(item_id)] = None if expires_at is None else int(expires_at)
        self._apply_local(version - 1, version, expiry=expiry)

    # --- TTL ----------------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        now = self._now()
        with self.db.transaction() as cur:
            removed = [
                int(r[0])
                for r in cur.execute(
                    "DELETE FROM langgraph_store_items WHERE expires_at IS NOT NULL "
                    "AND expires_at <= ? RETURNING item_id",
                    (now,),
                ).fetchall()
            ]
            if not removed:
                return 0
            version, _, _ = self._bump(cur)
            cur.execute(
                "UPDATE langgraph_store_state SET reset_version = ? WHERE id = 1", (version,)
            )
        self._apply_local(version - 1, version, drop=removed)
        return len(removed)

    def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> concurrent.futures.Future[None]:
        """Sweep expired items every ``sweep_interval_minutes`` in a daemon thread.

        The interval defaults to the TTL config's (else 5 minutes). The returned future
        completes when the sweeper stops (``stop_ttl_sweeper()`` or ``close()``).
        """
        minutes = float(
            sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        )
        if not minutes > 0:
            raise ConfigurationError(f"sweep_interval_minutes must be positive, got {minutes!r}")
        with self._sweeper_lock:
            if self._sweeper is not None and self._sweeper.is_alive():
                assert self._sweeper_future is not None
                return self._sweeper_future
            stop = self._stop = threading.Event()
            future: concurrent.futures.Future[None] = concurrent.futures.Future()

            def loop() -> None:
                try:
                    while not stop.wait(minutes * 60):
                        try:
                            swept = self.sweep_ttl()
                            if swept:
                                logger.debug("TTL sweep deleted %d store items", swept)
                        except RuntimeError as exc:
                            if "closed" in str(exc):
                                return
                            logger.exception("store TTL sweep failed; retrying next interval")
                        except Exception:
                            logger.exception("store TTL sweep failed; retrying next interval")
                finally:
                    future.set_result(None)

            self._sweeper = threading.Thread(
                target=loop, name="AgentMemoryStore-ttl-sweeper", daemon=True
            )
            self._sweeper_future = future
            self._sweeper.start()
            return future

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; True when it has stopped (or never ran)."""
        with self._sweeper_lock:
            thread = self._sweeper
            self._stop.set()
        if thread is None:
            return True
        if thread is not threading.current_thread():
            thread.join(timeout)
        stopped = not thread.is_alive()
        if stopped:
            with self._sweeper_lock:
                if self._sweeper is thread:
                    self._sweeper = None
        return stopped

    # --- maintenance ----------------------------------------------------------------------------

    def reindex(self, *, batch_size: int = 256) -> int:
        """Re-embed every item with this store's embedder and fields; returns the item count.

        Per-put ``index`` overrides are kept. Use it after changing the embedding model.
        Searches in other processes see fewer scored items until it finishes.
        """
        if self.embedder is None:
            raise ConfigurationError("reindex() needs a store created with an index config")
        with self.db.transaction() as cur:
            version, _, _ = self._bump(cur)
            cur.execute("UPDATE langgraph_store_vectors SET embedding = NULL")
            cur.execute(
                "UPDATE langgraph_store_state SET embedder_name = ?, embedder_dim = ?, "
                "reset_version = ? WHERE id = 1",
                (self.embedder.name, self._dim, version),
            )
        self._cache.drop()
        done, after = 0, 0
        while True:
            with self.db.read() as cur:
                chunk = cur.execute(
                    "SELECT item_id, value, index_fields FROM langgraph_store_items "
                    "WHERE item_id > ? ORDER BY item_id LIMIT ?",
                    (after, batch_size),
                ).fetchall()
            if not chunk:
                return done
            texts = {
                int(item_id): self._texts(
                    json.loads(value), None if fields is None else json.loads(fields)
                )
                for item_id, value, fields in chunk
            }
            vectors = self._embed_texts(t for pairs in texts.values() for _, t in pairs)
            with self.db.transaction() as cur:
                version, _, _ = self._bump(cur)
                for item_id, pairs in texts.items():
                    cur.execute("DELETE FROM langgraph_store_vectors WHERE item_id = ?", (item_id,))
                    if pairs:
                        cur.executemany(
                            "INSERT INTO langgraph_store_vectors (item_id, field, text, "
                            "version, embedding) VALUES (?, ?, ?, ?, ?)",
                            [
                                (item_id, field, text, version, self._vector_param(vectors[text]))
                                for field, text in pairs
                            ],
                        )
                    cur.execute(
                        "UPDATE langgraph_store_items SET version = ?, vectors_version = ? "
                        "WHERE item_id = ?",
                        (version, version, item_id),
                    )
            after = int(chunk[-1][0])
            done += len(chunk)


def _ttl_ids(rows: Sequence[Any]) -> list[int]:
    return [int(r[0]) for r in rows if r[6] is not None]
