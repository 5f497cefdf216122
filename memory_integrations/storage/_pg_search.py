"""Hybrid search inside PostgreSQL: pgvector HNSW for the dense half, full-text for keywords.

On PostgreSQL the engine does not hold users' vectors in memory: each search asks the
database, in one statement, for the dense top list (an HNSW index scan with pgvector's
iterative scans, so a user's filters never starve the result), the keyword top list (BM25
over ``tsvector`` lexemes found through a GIN index), and for that candidate pool with its
neighbouring turns, their exact cosine and BM25 score. The engine fuses the pool exactly as
it fuses an in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._database import Cursor
from ._engine_store import EngineStore
from ._query import BlockQuery

# pg_advisory_xact_lock key: one process at a time builds a missing HNSW index.
_INDEX_LOCK = 0x6D692D686E7377

# The query text's lexemes, as the ``tsv`` column derives a block's.
_LEXEMES = "unnest(tsvector_to_array(to_tsvector('english'::regconfig, ?))) AS word"
# ... OR-ed: any shared word makes a block a keyword candidate.
_TSQUERY = f"(SELECT string_agg(quote_literal(word), ' | ') FROM {_LEXEMES})"


@dataclass(frozen=True)
class HnswParameters:
    """Build (``m``, ``ef_construction``) and query (``ef_search``) parameters of the index."""

    m: int = 16
    ef_construction: int = 64
    ef_search: int = 100


@dataclass(frozen=True)
class SearchPool:
    """Candidates of one search, in ``seq`` order, with what the fusion needs."""

    seqs: npt.NDArray[np.int64]
    cosine: npt.NDArray[np.float32]
    keyword: npt.NDArray[np.float32] | None  # None: the query has no searchable word
    prev: npt.NDArray[np.int64]  # seq of the previous turn in the session, -1 when none
    nxt: npt.NDArray[np.int64]
    texts: list[str]
    authors: list[str | None]  # a message's name
    created: npt.NDArray[np.int64]  # created_at (or ingested_at), epoch microseconds
    sessions: npt.NDArray[np.int64]  # a code per session id, equal within a session
    coverage: float  # share of the query words' idf weight that some visible block has


def pgvector_version(cur: Cursor) -> tuple[int, ...]:
    row = cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if row is None:
        return (0,)
    return tuple(int(part) for part in str(row[0]).split(".") if part.isdigit())


def _turn(outer: str, before: bool) -> str:
    """The message right before/after ``outer`` in its session (``outer`` must be a message)."""
    op, way = ("<", " DESC") if before else (">", "")
    return (
        f"SELECT x.seq FROM mi_blocks x WHERE x.user_id = {outer}.user_id "
        f"AND x.session_id = {outer}.session_id AND {outer}.kind = 'message' "
        "AND x.kind = 'message' AND x.status = 'ready' AND x.embedding IS NOT NULL "
        f"AND x.seq {op} {outer}.seq ORDER BY x.seq{way} LIMIT 1"
    )


class PostgresSearch:
    """Search of one user's blocks by the database, for embeddings of ``dim`` dimensions."""

    def __init__(
        self, store: EngineStore, dim: int, parameters: HnswParameters = HnswParameters()
    ) -> None:
        self.store = store
        self.dim = int(dim)
        self.parameters = parameters
        with store.db.read() as cur:
            # Iterative index scans (pgvector 0.8) keep scanning the HNSW graph until enough
            # rows pass the filters; without them a filtered HNSW scan can return too few,
            # so older versions rank exactly instead.
            self.uses_index = pgvector_version(cur) >= (0, 8)
        self.index_name = f"mi_blocks_hnsw_{self.dim}"
        self.chunk_index_name = f"mi_block_chunks_hnsw_{self.dim}"

    def ensure_index(self) -> None:
        """Create the HNSW indexes of blocks and of long blocks' chunks for this dimension
        if they are missing (one process builds them)."""
        if not self.uses_index:
            return
        db = self.store.db
        wanted = ((self.index_name, "mi_blocks"), (self.chunk_index_name, "mi_block_chunks"))
        with db.read() as cur:
            missing = [
                (name, table)
                for name, table in wanted
                if not cur.execute("SELECT to_regclass(?)", (name,)).fetchone()[0]
            ]
        if not missing:
            return
        p = self.parameters
        with db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(?)", (_INDEX_LOCK,))
            for name, table in missing:
                # Rows of another dimension (before a reindex) stay out of this partial index.
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING hnsw "
                    f"((embedding::vector({self.dim})) vector_cosine_ops) "
                    f"WITH (m = {int(p.m)}, ef_construction = {int(p.ef_construction)}) "
                    f"WHERE vector_dims(embedding) = {self.dim}"
                )

    def _visible(self, q: BlockQuery) -> tuple[str, list[object]]:
        where, params = self.store._where(q)
        return f"{where} AND b.text ~ '\\S'", params  # blank blocks match nothing

    def _nearest_sql(self, visible: str, table: str = "b") -> str:
        """Seqs of the blocks nearest a vector by their own vector (``table`` "b") or by
        a chunk of theirs ("c"); takes the visibility parameters, the vector and a limit."""
        vector = f"{table}.embedding"
        distance = f"{vector}::vector({self.dim}) <=> ?" if self.uses_index else f"{vector} <=> ?"
        source = "mi_blocks b"
        if table == "c":
            source = "mi_block_chunks c JOIN mi_blocks b ON b.seq = c.seq"
        return (
            f"SELECT b.seq FROM {source} WHERE {visible} "
            f"AND vector_dims({vector}) = {self.dim} ORDER BY {distance} LIMIT ?"
        )

    def nearest(
        self, cur: Cursor, q: BlockQuery, vector: npt.NDArray[np.float32], k: int
    ) -> list[int]:
        """Seqs of the ``k`` blocks nearest ``vector`` by cosine (the dense half alone)."""
        self._configure(cur, k)
        visible, params = self._visible(q)
        return [r[0] for r in cur.execute(self._nearest_sql(visible), [*params, vector, k])]

    def _configure(self, cur: Cursor, depth: int, text: str | None = None) -> str | None:
        """Set this transaction's index scan options; returns the query text's tsquery."""
        settings = []
        if self.uses_index:
            ef_search = max(self.parameters.ef_search, depth)
            settings = [
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                f"set_config('hnsw.ef_search', '{int(ef_search)}', true)",
            ]
        if text is None:
            if settings:
                cur.execute(f"SELECT {', '.join(settings)}")
            return None
        row = cur.execute(f"SELECT {', '.join([*settings, _TSQUERY])}", (text,)).fetchone()
        return None if row[-1] is None else str(row[-1])

    def pool(
        self,
        cur: Cursor,
        q: BlockQuery,
        vector: npt.NDArray[np.float32],
        text: str,
        depth: int,
        bm25: tuple[float, float] = (1.2, 0.5),
    ) -> SearchPool:
        """The dense and keyword top ``depth`` of the blocks ``q`` admits, plus neighbours.

        Keyword scores are BM25 (``bm25`` = k1, b) over the full-text lexemes, with binary
        term frequency (a turn seldom repeats a word, and reading frequencies means
        unpacking every matching tsvector): idf from the user's ready blocks, average length
        from the matching ones. Run inside a transaction: the index scan settings are
        transaction-local.
        """
        tsquery = self._configure(cur, depth, text)
        visible, params = self._visible(q)
        k1, b = (float(x) for x in bm25)
        rows = cur.execute(
            # blocks sharing a word with the query, one row per shared word
            f"WITH words AS (SELECT word, quote_literal(word)::tsquery AS one FROM {_LEXEMES}), "
            # one index scan for all words, then each word tested on the fetched row
            "docs AS MATERIALIZED (SELECT b.seq, b.tsv FROM mi_blocks b "
            f"WHERE {visible} AND b.tsv @@ ?::tsquery), "
            "matched AS MATERIALIZED (SELECT d.seq, w.word, length(d.tsv)::float8 AS dl "
            "FROM docs d JOIN words w ON d.tsv @@ w.one), "
            "stats AS (SELECT (SELECT count(*) FROM mi_blocks b WHERE b.user_id = ? "
            "AND b.status = 'ready')::float8 AS n, (SELECT avg(dl) FROM matched) AS avgdl), "
            "df AS (SELECT word, count(*)::float8 AS df FROM matched GROUP BY word), "
            "bm25 AS (SELECT m.seq, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) "
            f"* {k1 + 1} / (1 + {k1} * (1 - {b} + {b} * m.dl / s.avgdl))) AS score "
            "FROM matched m JOIN df ON df.word = m.word CROSS JOIN stats s GROUP BY m.seq), "
            f"dense AS ({self._nearest_sql(visible)}), "
            f"chunk_dense AS ({self._nearest_sql(visible, 'c')}), "
            "cand AS (SELECT seq FROM dense UNION SELECT seq FROM chunk_dense UNION "
            "SELECT seq FROM (SELECT seq FROM bm25 ORDER BY score DESC, seq LIMIT ?) k), "
            "cand_rows AS (SELECT b.seq, b.user_id, b.session_id, b.kind FROM mi_blocks b "
            "JOIN cand c ON c.seq = b.seq), "
            f"around AS (SELECT t.seq FROM cand_rows c CROSS JOIN LATERAL ({_turn('c', True)}) t "
            f"UNION SELECT t.seq FROM cand_rows c CROSS JOIN LATERAL ({_turn('c', False)}) t), "
            "pool AS (SELECT seq FROM cand UNION "
            f"SELECT b.seq FROM mi_blocks b JOIN around a ON a.seq = b.seq WHERE {visible}), "
            "weights AS (SELECT coalesce(df.df, 0) AS df, "
            "ln(1 + (s.n - coalesce(df.df, 0) + 0.5) / (coalesce(df.df, 0) + 0.5)) AS w "
            "FROM words w LEFT JOIN df ON df.word = w.word CROSS JOIN stats s), "
            "coverage AS (SELECT CASE WHEN sum(w) > 0 THEN "
            "sum(CASE WHEN df > 0 THEN w ELSE 0 END) / sum(w) ELSE 1 END AS share FROM weights) "
            # a long block's cosine is its best window's
            "SELECT b.seq, greatest(1 - (b.embedding <=> ?), (SELECT max(1 - (c.embedding <=> ?)) "
            "FROM mi_block_chunks c WHERE c.seq = b.seq)), coalesce(k.score, 0), "
            f"({_turn('b', True)}), ({_turn('b', False)}), b.text, b.name, "
            "(SELECT share FROM coverage), coalesce(b.created_at, b.ingested_at), b.session_id "
            "FROM mi_blocks b JOIN pool p ON p.seq = b.seq LEFT JOIN bm25 k ON k.seq = b.seq "
            "ORDER BY b.seq",
            [
                text,
                *params,
                tsquery,
                q.user_id,
                *params,
                vector,
                depth,
                *params,
                vector,
                depth,
                depth,
                *params,
                vector,
                vector,
            ],
        ).fetchall()
        return SearchPool(
            seqs=np.array([r[0] for r in rows], np.int64),
            cosine=np.array([r[1] for r in rows], np.float32),
            keyword=np.array([r[2] for r in rows], np.float32) if tsquery else None,
            prev=np.array([-1 if r[3] is None else r[3] for r in rows], np.int64),
            nxt=np.array([-1 if r[4] is None else r[4] for r in rows], np.int64),
            texts=[str(r[5]) for r in rows],
            authors=[r[6] if isinstance(r[6], str) else None for r in rows],
            coverage=float(rows[0][7]) if rows else 1.0,
            created=np.array([r[8] for r in rows], np.int64),
            sessions=np.unique([str(r[9]) for r in rows], return_inverse=True)[1].astype(np.int64),
        )
