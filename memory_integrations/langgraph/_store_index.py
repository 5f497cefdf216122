"""The store's search index: kept in step with the tables, ranked by hybrid relevance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from langgraph.store.base import get_text_at_path, tokenize_path

from ..embedders import Embedder
from ..errors import EmbedderMismatchError, EmbeddingError
from ..retrieval import PLAIN_RANKING, IndexCache, IndexEntry, SearchIndex, hybrid_rank
from ..storage import Cursor, SqlDatabase
from ._store_distance import DistanceType, best_score, unwrap_non_unit
from ._store_filters import _leaf_text

Ranking = Literal["hybrid", "vector"]
_KEY = "store"  # the one entry this store keeps in its IndexCache
_NO_VECTOR = np.zeros(1, np.float32).tobytes()  # the dummy "embedding" of keyword-only rows


@dataclass(frozen=True, slots=True)
class _TextRow:
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

    def add(self, rows: Sequence[_TextRow]) -> None:
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
class _Hit:
    item_id: int
    score: float | None


class IndexedItems:
    """The store's in-memory index kept in step with its tables, and ranking on it.

    A mixin of :class:`~memory_integrations.langgraph.AgentMemoryStore`: the indexed texts
    of every item sit in one :class:`_ItemIndex`; a search first fetches the rows changed
    since the version the index holds (deletes also set ``reset_version``: a reload).
    """

    db: SqlDatabase
    embedder: Embedder | None
    ranking: Ranking
    _cache: IndexCache
    _dim: int
    _postgres: bool
    _warned: bool
    _fields: list[tuple[str, str | list[str]]]
    distance_type: DistanceType

    def _embed_query(self, query: str) -> npt.NDArray[np.float32]:
        assert self.embedder is not None
        try:
            raw = self.embedder.embed_query(query)
        except EmbeddingError as exc:
            unwrap_non_unit(exc)
            raise
        vector = np.asarray(raw, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._dim:
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned a {vector.shape[0]}-d query vector, "
                f"expected {self._dim}"
            )
        return vector

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
        coverage = index.keywords.coverage(terms) if keyword is not None else 1.0
        k = needed
        while True:
            config = dataclasses.replace(PLAIN_RANKING, depth=max(PLAIN_RANKING.depth, k))
            order: dict[int, None] = {}
            for position, _, _ in hybrid_rank(
                visible, dense, keyword, neighbours, k, config=config, coverage=coverage
            ):
                order.setdefault(int(index.seqs[position]), None)
            if len(order) >= needed or k >= visible.size:
                break
            k = min(int(visible.size), 2 * k)
        hits = []
        for item_id in order:
            positions = np.asarray(index.rows_of.get(item_id, ()), dtype=np.int64)
            score = (
                best_score(self.distance_type, index.matrix, positions, vector, dense.of(positions))
                if positions.size
                else None
            )
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
    ) -> list[_TextRow]:
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
                _TextRow(
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
        add: Sequence[_TextRow] = (),
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

    def _embed_texts(self, texts: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        if self.embedder is None:
            return {}
        unique = list(dict.fromkeys(texts))
        if not unique:
            return {}
        try:
            raw = self.embedder.embed_documents(unique)
        except EmbeddingError as exc:
            unwrap_non_unit(exc)
            raise
        matrix = np.asarray(raw, dtype=np.float32)
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
