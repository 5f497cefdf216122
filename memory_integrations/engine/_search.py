"""Reading blocks: listing, filter-only lookup, hybrid search and counting."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from .. import validation
from .._models import (
    FilterOptions,
    ListMemoriesResponse,
    MemoryList,
)
from ..retrieval import (
    K1,
    B,
    IndexEntry,
    PoolCues,
    QueryCues,
    RankingConfig,
    SearchIndex,
    fuse,
    hybrid_rank,
    pool_indexes,
    query_terms,
)
from ..storage import (
    BlockQuery,
    to_us,
)
from ..validation import parse_filters
from ._base import EngineBase, log

_US = 1_000_000


class Search(EngineBase):
    """The engine's reads of blocks (a part of :class:`Engine`)."""

    def list_memories(
        self,
        user_id: str,
        session_ids: Sequence[str] | str | None = None,
        limit: int = 20,
        offset: int = 0,
        order_by: str = "ingested_at",
    ) -> ListMemoriesResponse:
        """One page of blocks (any status), oldest first by ``order_by``."""
        validation.check_id(user_id, "user_id")
        validation.check_limit(limit, "limit", 1, 200)
        validation.check_offset(offset)
        validation.check_order_by(order_by)
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
            return [validation.check_id(s, "each of session_ids") for s in session_ids.split(",")]
        return validation.check_id_list(session_ids, "session_ids")

    def _query(
        self,
        user_id: str,
        session_id: str | None,
        options: FilterOptions,
        statuses: list[str] | None,
    ) -> BlockQuery:
        annotations = validation.check_annotations(options.annotations, "annotations filter")
        block_ids = (
            None
            if options.block_ids is None
            else validation.check_id_list(options.block_ids, "block_ids", allow_percent=True)
        )
        if options.agent_id is not None:
            validation.check_id(options.agent_id, "agent_id")
        for text, what in (
            (options.metadata_contains, "metadata_contains"),
            (options.content_contains, "content_contains"),
        ):
            if text is not None:
                validation.check_text(text, what)

        def us(moment: datetime | None) -> int | None:
            return (
                None
                if moment is None
                else to_us(validation.check_datetime(moment, "time") or moment)
            )

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
        validation.check_id(user_id, "user_id")
        if session_id is not None:
            validation.check_id(session_id, "session_id")
        options = parse_filters(filters)
        if query is not None:
            validation.check_text(query, "query")
        k = validation.check_limit(options.relevant_k, "relevant_k", 1, validation.MAX_RELEVANT_K)
        if options.limit is not None:
            validation.check_limit(options.limit, "limit", 1, 10_000)
        validation.check_threshold(options.threshold)
        q = self._query(user_id, session_id, options, ["ready"])
        if query is None:
            with self.database.read() as cur:
                self._check_scope_owner(cur, user_id, session_id)
                rows = self._store.query_blocks(
                    cur,
                    q,
                    order_by=options.order_by,
                    limit=options.limit,
                    offset=validation.check_offset(options.offset),
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
        terms, cues, config = query_terms(query), QueryCues.of(query), RankingConfig()
        with self._indexes.lock_for(q.user_id):
            visible = index.visible(q.now, q.session_ids, allowed)
            ranked = hybrid_rank(
                visible,
                index.dense(query_vector, visible),
                index.keywords.scores(terms),
                index.neighbours(),
                k,
                threshold=threshold,
                coverage=index.keywords.coverage(terms),
                config=config,
                cues=lambda pool: index.cues(cues, pool, config.date_decay_days),
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
            coverage=pool.coverage,
            cues=PoolCues.of(
                QueryCues.of(query),
                pool.texts,
                pool.authors,
                created_us=pool.created,
                session=pool.sessions,
                opens=pool.prev < 0,
                closes=pool.nxt < 0,
            ),
        )
        return [(int(pool.seqs[i]), score, cos) for i, score, cos in ranked]

    def _check_scope_owner(self, cur: Any, user_id: str, session_id: str | None) -> None:
        if session_id is None:
            self._require_user(cur, user_id)
        else:
            self._require_session(cur, user_id, session_id)

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
            chunks = self._store.indexed_chunks(cur, user_id, after)
            entry.append(
                [
                    IndexEntry(
                        seq,
                        session,
                        expires,
                        kind == "message",
                        text,
                        blob,
                        name,
                        tuple(c for c in chunks.get(seq, ()) if self._usable_vector(seq, c)),
                        created,
                        extracted,
                    )
                    for seq, session, expires, kind, text, name, created, extracted, blob in (
                        self._store.indexed_blocks(cur, user_id, after)
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
        validation.check_id(user_id, "user_id")
        options = parse_filters(filters)
        q = self._query(user_id, session_id, options, statuses=None)
        with self.database.read() as cur:
            self._check_scope_owner(cur, user_id, session_id)
            return self._store.count_blocks(cur, q)
