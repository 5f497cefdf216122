"""The engine's explicit SQL: users, sessions, blocks and vectors, on SQLite or PostgreSQL.

Statements are written once with ``?`` / ``:name`` parameters (the PostgreSQL database
translates them); the few dialect differences (JSON access, substring search, vector
columns) are isolated in small helpers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from ._database import Cursor, SqlDatabase
from ._dialect import chunks, placeholders, render_migrations
from ._engine_schema import ENGINE_MIGRATIONS
from ._query import BLOCK_COLUMNS, BlockQuery, BlockRow, TenantQuery

USER_COLUMNS = "user_id, name, metadata, created_at"
SESSION_COLUMNS = "user_id, session_id, start_time, end_time, annotations, metadata, blocks_ttl"


class EngineStore:
    """Engine persistence on a :class:`SqlDatabase`; every query is scoped by user."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self.postgres = db.dialect == "postgres"
        db.migrate("engine", render_migrations(ENGINE_MIGRATIONS, db.dialect))

    # --- dialect helpers ----------------------------------------------------------------

    def _json_text(self, column: str, key: str) -> tuple[str, str]:
        """SQL fragment and parameter reading a top-level JSON key as text."""
        if self.postgres:
            return f"({column}::jsonb ->> ?)", key
        return f"CAST(json_extract({column}, ?) AS TEXT)", f'$."{key}"'

    def _contains(self, column: str) -> str:
        return f"strpos({column}, ?) > 0" if self.postgres else f"instr({column}, ?) > 0"

    def _vector_param(self, blob: bytes | None) -> Any:
        if blob is None or not self.postgres:
            return blob
        import numpy as np

        return np.frombuffer(blob, dtype=np.float32)

    def _vector_bytes(self, value: Any) -> bytes:
        if isinstance(value, (bytes, memoryview)):
            return bytes(value)
        import numpy as np

        if hasattr(value, "to_numpy"):  # pgvector's Vector
            value = value.to_numpy()
        return np.asarray(value, dtype=np.float32).tobytes()

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, cur: Cursor, key: str) -> str | None:
        row = cur.execute("SELECT value FROM mi_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, cur: Cursor, key: str, value: str) -> None:
        cur.execute(
            "INSERT INTO mi_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- users --------------------------------------------------------------------------

    def insert_user(
        self, cur: Cursor, user_id: str, name: str, metadata: str | None, now: int
    ) -> bool:
        cur.execute(
            "INSERT INTO mi_users (user_id, name, metadata, created_at, generation) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id) DO NOTHING",
            (user_id, name, metadata, now, new_generation()),
        )
        return cur.rowcount == 1

    def get_user(self, cur: Cursor, user_id: str) -> Any:
        return cur.execute(
            f"SELECT {USER_COLUMNS} FROM mi_users WHERE user_id = ?", (user_id,)
        ).fetchone()

    def list_users(
        self,
        cur: Cursor,
        name: str | None,
        metadata: dict[str, str],
        limit: int,
        offset: int,
    ) -> tuple[list[Any], int]:
        where, params = ["1 = 1"], []
        if name is not None:
            where.append("name = ?")
            params.append(name)
        for key, value in metadata.items():
            # values compare as strings, like the wire API's key=value filter
            fragment, param = self._json_text("metadata", key)
            where.append(f"{fragment} = ?")
            params.extend([param, value])
        clause = " AND ".join(where)
        total = cur.execute(f"SELECT count(*) FROM mi_users WHERE {clause}", params).fetchone()
        rows = cur.execute(
            f"SELECT {USER_COLUMNS} FROM mi_users WHERE {clause} "
            "ORDER BY created_at, user_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return rows, int(total[0])

    def update_user(
        self, cur: Cursor, user_id: str, name: str | None, metadata: str | None
    ) -> None:
        if name is not None:
            cur.execute("UPDATE mi_users SET name = ? WHERE user_id = ?", (name, user_id))
        if metadata is not None:
            cur.execute("UPDATE mi_users SET metadata = ? WHERE user_id = ?", (metadata, user_id))

    def delete_user(self, cur: Cursor, user_id: str) -> bool:
        # Blocks first, so the keyword-index trigger sees every row it must forget.
        cur.execute("DELETE FROM mi_blocks WHERE user_id = ?", (user_id,))
        cur.execute("DELETE FROM mi_sessions WHERE user_id = ?", (user_id,))
        cur.execute("DELETE FROM mi_users WHERE user_id = ?", (user_id,))
        return cur.rowcount == 1

    def session_ids_of(self, cur: Cursor, user_id: str) -> list[str]:
        rows = cur.execute(
            "SELECT session_id FROM mi_sessions WHERE user_id = ? ORDER BY start_time, session_id",
            (user_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def lock_users(self, cur: Cursor, user_ids: Iterable[str]) -> None:
        """Lock these users' rows, in id order, before changing their blocks.

        Every transaction that changes blocks and bumps a user's index version takes the
        user rows first and in one order, so two of them can never wait on each other
        (block rows, then the user row, in one; the reverse in another, was a deadlock).
        SQLite has a single writer and needs nothing.
        """
        ids = sorted(set(user_ids))
        if self.postgres and ids:
            cur.execute(
                "SELECT user_id FROM mi_users WHERE user_id = ANY(?) ORDER BY user_id FOR UPDATE",
                (ids,),
            )

    def bump_index_version(self, cur: Cursor, user_id: str, *, reset: bool) -> int:
        """Advance the user's vector-index version; ``reset`` marks a non-append change."""
        if reset:
            cur.execute(
                "UPDATE mi_users SET index_version = index_version + 1, "
                "reset_version = index_version + 1 WHERE user_id = ?",
                (user_id,),
            )
        else:
            cur.execute(
                "UPDATE mi_users SET index_version = index_version + 1 WHERE user_id = ?",
                (user_id,),
            )
        row = cur.execute(
            "SELECT index_version FROM mi_users WHERE user_id = ?", (user_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def index_versions(self, cur: Cursor, user_id: str) -> tuple[int, int, str] | None:
        """(index_version, reset_version, generation) of a user's search index."""
        row = cur.execute(
            "SELECT index_version, reset_version, generation FROM mi_users WHERE user_id = ?",
            (user_id,),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), str(row[2]))

    # --- sessions -----------------------------------------------------------------------

    def insert_session(
        self,
        cur: Cursor,
        user_id: str,
        session_id: str,
        now: int,
        annotations: str | None,
        metadata: str | None,
        blocks_ttl: int | None,
    ) -> bool:
        cur.execute(
            "INSERT INTO mi_sessions (user_id, session_id, start_time, annotations, metadata, "
            "blocks_ttl) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, session_id) DO NOTHING",
            (user_id, session_id, now, annotations, metadata, blocks_ttl),
        )
        return cur.rowcount == 1

    def get_session(self, cur: Cursor, user_id: str, session_id: str) -> Any:
        return cur.execute(
            f"SELECT {SESSION_COLUMNS} FROM mi_sessions WHERE user_id = ? AND session_id = ?",
            (user_id, session_id),
        ).fetchone()

    def list_sessions(
        self, cur: Cursor, user_id: str, limit: int, offset: int
    ) -> tuple[list[Any], int]:
        total = cur.execute(
            "SELECT count(*) FROM mi_sessions WHERE user_id = ?", (user_id,)
        ).fetchone()
        rows = cur.execute(
            f"SELECT {SESSION_COLUMNS} FROM mi_sessions WHERE user_id = ? "
            "ORDER BY start_time, session_id LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        ).fetchall()
        return rows, int(total[0])

    def update_session(
        self,
        cur: Cursor,
        user_id: str,
        session_id: str,
        annotations: str | None,
        metadata: str | None,
    ) -> None:
        if annotations is not None:
            cur.execute(
                "UPDATE mi_sessions SET annotations = ? WHERE user_id = ? AND session_id = ?",
                (annotations, user_id, session_id),
            )
        if metadata is not None:
            cur.execute(
                "UPDATE mi_sessions SET metadata = ? WHERE user_id = ? AND session_id = ?",
                (metadata, user_id, session_id),
            )

    def end_session(self, cur: Cursor, user_id: str, session_id: str, now: int) -> None:
        cur.execute(
            "UPDATE mi_sessions SET end_time = coalesce(end_time, ?) "
            "WHERE user_id = ? AND session_id = ?",
            (now, user_id, session_id),
        )

    def delete_session(self, cur: Cursor, user_id: str, session_id: str) -> bool:
        cur.execute(
            "DELETE FROM mi_blocks WHERE user_id = ? AND session_id = ?", (user_id, session_id)
        )
        cur.execute(
            "DELETE FROM mi_sessions WHERE user_id = ? AND session_id = ?", (user_id, session_id)
        )
        return cur.rowcount == 1

    # --- blocks -------------------------------------------------------------------------

    def insert_blocks(self, cur: Cursor, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert rows (the extraction columns may be left out) and return their seqs."""
        seqs: list[int] = []
        for row in rows:
            row = {**_EXTRACTION_COLUMNS, **row}
            if self.postgres:
                row = {**row, "embedding": self._vector_param(row["embedding"])}
            cur.execute(
                "INSERT INTO mi_blocks (block_id, user_id, session_id, kind, fact, user_content, "
                "assistant_content, role, content, name, text, annotations, metadata, agent_id, "
                "created_at, ingested_at, updated_at, last_queued_at, expires_at, status, "
                "fail_count, embedding, index_version, summary, contexts, prompt_id, prompt_vid, "
                "context_required, manage_facts, source_block_id) VALUES "
                "(:block_id, :user_id, :session_id, :kind, :fact, :user_content, "
                ":assistant_content, :role, :content, :name, :text, :annotations, :metadata, "
                ":agent_id, :created_at, :ingested_at, :updated_at, :last_queued_at, "
                ":expires_at, :status, :fail_count, :embedding, :index_version, :summary, "
                ":contexts, :prompt_id, :prompt_vid, :context_required, :manage_facts, "
                ":source_block_id) RETURNING seq",
                row,
            )
            seqs.append(int(cur.fetchone()[0]))
        return seqs

    def _where(self, q: BlockQuery, alias: str = "b") -> tuple[str, list[Any]]:
        a = alias
        where = [f"{a}.user_id = ?", f"({a}.expires_at IS NULL OR {a}.expires_at > ?)"]
        params: list[Any] = [q.user_id, q.now]
        for column, values in (
            ("session_id", q.session_ids),
            ("block_id", q.block_ids),
            ("status", q.statuses),
        ):
            if values is not None:
                where.append(f"{a}.{column} IN ({placeholders(len(values))})")
                params.extend(values)
        for column, low, high in (
            ("ingested_at", q.ingested_from, q.ingested_to),
            ("created_at", q.created_from, q.created_to),
        ):
            if low is not None:
                where.append(f"coalesce({a}.{column}, {a}.ingested_at) >= ?")
                params.append(low)
            if high is not None:
                where.append(f"coalesce({a}.{column}, {a}.ingested_at) <= ?")
                params.append(high)
        for key, value in q.annotations.items():
            fragment, param = self._json_text(f"{a}.annotations", key)
            where.append(f"{fragment} = ?")
            params.extend([param, value])
        if q.metadata_contains:
            where.append(self._contains(f"coalesce({a}.metadata, '')"))
            params.append(q.metadata_contains)
        if q.content_contains:
            where.append(self._contains(f"{a}.text"))
            params.append(q.content_contains)
        for column, wanted in (("agent_id", q.agent_id), ("kind", q.kind), ("role", q.role)):
            if wanted is not None:
                where.append(f"{a}.{column} = ?")
                params.append(wanted)
        return " AND ".join(where), params

    def query_blocks(
        self,
        cur: Cursor,
        q: BlockQuery,
        *,
        order_by: str = "ingested_at",
        limit: int | None = None,
        offset: int = 0,
        descending: bool = False,
    ) -> list[BlockRow]:
        where, params = self._where(q)
        way = " DESC" if descending else ""
        if order_by == "created_at":
            # blocks without created_at sort last either way
            order = f"b.created_at IS NULL, b.created_at{way}, b.ingested_at{way}, b.seq{way}"
        else:
            order = f"b.ingested_at{way}, b.seq{way}"
        if limit is None:
            sql = f"SELECT {_prefixed(BLOCK_COLUMNS)} FROM mi_blocks b WHERE {where} "
            sql += f"ORDER BY {order}"
            return [BlockRow.from_row(r) for r in cur.execute(sql, params).fetchall()]
        # Page over the (covering) index first, then read only the rows of the page.
        page = [
            r[0]
            for r in cur.execute(
                f"SELECT b.seq FROM mi_blocks b WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        rows = {row.seq: row for row in self.blocks_by_seq(cur, q.user_id, page)}
        return [rows[seq] for seq in page]

    def count_blocks(self, cur: Cursor, q: BlockQuery) -> int:
        where, params = self._where(q)
        return int(
            cur.execute(f"SELECT count(*) FROM mi_blocks b WHERE {where}", params).fetchone()[0]
        )

    def matching_seqs(self, cur: Cursor, q: BlockQuery) -> list[int]:
        where, params = self._where(q)
        return [r[0] for r in cur.execute(f"SELECT b.seq FROM mi_blocks b WHERE {where}", params)]

    def blocks_by_seq(self, cur: Cursor, user_id: str, seqs: Sequence[int]) -> list[BlockRow]:
        rows: list[BlockRow] = []
        for chunk in chunks(seqs, 500):
            # Look up by primary key only (a user_id condition lets SQLite's planner pick the
            # user index and scan every block of the user), then keep the user's rows.
            rows.extend(
                row
                for row in map(
                    BlockRow.from_row,
                    cur.execute(
                        f"SELECT {BLOCK_COLUMNS} FROM mi_blocks WHERE seq IN "
                        f"({placeholders(len(chunk))})",
                        list(chunk),
                    ).fetchall(),
                )
                if row.user_id == user_id
            )
        return rows

    def block_id_exists(self, cur: Cursor, block_id: str) -> bool:
        return (
            cur.execute("SELECT 1 FROM mi_blocks WHERE block_id = ?", (block_id,)).fetchone()
            is not None
        )

    def tenant_blocks(
        self, cur: Cursor, q: TenantQuery, limit: int, offset: int, with_total: bool
    ) -> tuple[list[BlockRow], int | None]:
        """Live blocks of one kind across users, oldest first, and how many match."""
        where = ["kind = ?", "(expires_at IS NULL OR expires_at > ?)"]
        params: list[Any] = [q.kind, q.now]
        for column, value in q.equals.items():
            if column not in TenantQuery.EQUALS:
                raise ValueError(f"not a filterable column: {column!r}")
            where.append(f"{column} = ?")
            params.append(value)
        for column, text in q.contains.items():
            if column not in TenantQuery.CONTAINS:
                raise ValueError(f"not a searchable column: {column!r}")
            where.append(
                self._contains("coalesce(metadata, '')" if column == "metadata" else column)
            )
            params.append(text)
        clause = " AND ".join(where)
        total = None
        if with_total:
            total = int(
                cur.execute(f"SELECT count(*) FROM mi_blocks WHERE {clause}", params).fetchone()[0]
            )
        rows = []
        if limit > 0:
            rows = [
                BlockRow.from_row(r)
                for r in cur.execute(
                    f"SELECT {BLOCK_COLUMNS} FROM mi_blocks WHERE {clause} "
                    "ORDER BY ingested_at, seq LIMIT ? OFFSET ?",
                    [*params, limit, offset],
                ).fetchall()
            ]
        return rows, total

    def blocks_by_block_id(self, cur: Cursor, block_ids: Sequence[str]) -> list[BlockRow]:
        rows: list[BlockRow] = []
        for chunk in chunks(block_ids, 500):
            rows.extend(
                BlockRow.from_row(r)
                for r in cur.execute(
                    f"SELECT {BLOCK_COLUMNS} FROM mi_blocks WHERE block_id IN "
                    f"({placeholders(len(chunk))})",
                    list(chunk),
                ).fetchall()
            )
        return rows

    def get_block(self, cur: Cursor, user_id: str, session_id: str, block_id: str) -> Any:
        row = cur.execute(
            f"SELECT {BLOCK_COLUMNS} FROM mi_blocks WHERE user_id = ? AND session_id = ? "
            "AND block_id = ?",
            (user_id, session_id, block_id),
        ).fetchone()
        return None if row is None else BlockRow.from_row(row)

    def update_block(self, cur: Cursor, seq: int, fields: dict[str, Any]) -> None:
        if "embedding" in fields:
            fields = {**fields, "embedding": self._vector_param(fields["embedding"])}
        assignments = ", ".join(f"{name} = :{name}" for name in fields)
        cur.execute(f"UPDATE mi_blocks SET {assignments} WHERE seq = :seq", {**fields, "seq": seq})

    def delete_blocks(
        self, cur: Cursor, user_id: str, session_id: str, block_ids: Sequence[str] | None
    ) -> int:
        if block_ids is None:
            cur.execute(
                "DELETE FROM mi_blocks WHERE user_id = ? AND session_id = ?",
                (user_id, session_id),
            )
            return cur.rowcount
        deleted = 0
        for chunk in chunks(block_ids, 500):
            cur.execute(
                "DELETE FROM mi_blocks WHERE user_id = ? AND session_id = ? AND block_id IN "
                f"({placeholders(len(chunk))})",
                [user_id, session_id, *chunk],
            )
            deleted += cur.rowcount
        return deleted

    def set_expiry(
        self,
        cur: Cursor,
        user_id: str,
        session_id: str | None,
        block_ids: Sequence[str] | None,
        expires_at: int | None,
        now: int,
    ) -> int:
        where = ["user_id = ?", "(expires_at IS NULL OR expires_at > ?)"]
        params: list[Any] = [user_id, now]
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if block_ids is not None:
            where.append(f"block_id IN ({placeholders(len(block_ids))})")
            params.extend(block_ids)
        cur.execute(
            f"UPDATE mi_blocks SET expires_at = ?, updated_at = ? WHERE {' AND '.join(where)}",
            [expires_at, now, *params],
        )
        return cur.rowcount

    # --- processing ---------------------------------------------------------------------

    def claim(
        self, cur: Cursor, seqs: Sequence[int], owner: str, now: int, lease_until: int
    ) -> list[tuple[int, str, str, int]]:
        """Lease processing blocks to ``owner``; returns (seq, user_id, text, fail_count)."""
        claimed: list[tuple[int, str, str, int]] = []
        for chunk in chunks(seqs, 500):
            claimed.extend(
                (int(r[0]), str(r[1]), str(r[2]), int(r[3]))
                for r in cur.execute(
                    "UPDATE mi_blocks SET lease_owner = ?, lease_until = ? WHERE seq IN "
                    f"({placeholders(len(chunk))}) AND status = 'processing' AND "
                    "(lease_until IS NULL OR lease_until < ? OR lease_owner = ?) "
                    "RETURNING seq, user_id, text, fail_count",
                    [owner, lease_until, *chunk, now, owner],
                ).fetchall()
            )
        return claimed

    def pending(self, cur: Cursor, now: int, max_attempts: int, limit: int) -> list[int]:
        """Processing blocks nobody holds a live lease on (e.g. after a crash)."""
        rows = cur.execute(
            "SELECT seq FROM mi_blocks WHERE status = 'processing' AND fail_count < ? "
            "AND (lease_until IS NULL OR lease_until < ?) ORDER BY seq LIMIT ?",
            (max_attempts, now, limit),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def complete(
        self,
        cur: Cursor,
        seq: int,
        owner: str,
        embedding: bytes,
        version: int,
        now: int,
        extracted: tuple[str, str] | None = None,
    ) -> bool:
        """Make a leased block ready with its vector and, when ``extracted``, its summary and
        contexts (JSON); False when the lease was lost (another process took the block)."""
        summary, contexts = extracted or (None, None)
        cur.execute(
            "UPDATE mi_blocks SET embedding = ?, status = 'ready', lease_owner = NULL, "
            "lease_until = NULL, index_version = ?, updated_at = ?, "
            "summary = coalesce(?, summary), contexts = coalesce(?, contexts) "
            "WHERE seq = ? AND status = 'processing' AND lease_owner = ?",
            (self._vector_param(embedding), version, now, summary, contexts, seq, owner),
        )
        return cur.rowcount == 1

    def extraction_inputs(self, cur: Cursor, seqs: Sequence[int]) -> dict[int, BlockRow]:
        """The stored rows of the given blocks (their prompt and extraction choices)."""
        found: dict[int, BlockRow] = {}
        for chunk in chunks(seqs, 500):
            for r in cur.execute(
                f"SELECT {BLOCK_COLUMNS} FROM mi_blocks WHERE seq IN ({placeholders(len(chunk))})",
                list(chunk),
            ):
                row = BlockRow.from_row(r)
                found[row.seq] = row
        return found

    def set_block_source(self, cur: Cursor, block_id: str, source_block_id: str) -> None:
        cur.execute(
            "UPDATE mi_blocks SET source_block_id = ? WHERE block_id = ?",
            (source_block_id, block_id),
        )

    def add_fact_change(
        self,
        cur: Cursor,
        user_id: str,
        block_id: str,
        action: str,
        change: tuple[str | None, str | None],
        source_block_id: str | None,
        actor: str,
        at: int,
    ) -> None:
        """Record one change of a user's facts: (old text, new text)."""
        cur.execute(
            "INSERT INTO mi_fact_history (user_id, block_id, action, old_text, new_text, "
            "source_block_id, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, block_id, action, *change, source_block_id, actor, at),
        )

    def fact_changes(
        self, cur: Cursor, user_id: str, block_id: str | None
    ) -> list[tuple[str, str, str | None, str | None, str | None, str, int]]:
        """A user's fact changes, oldest first: (block_id, action, old_text, new_text,
        source_block_id, actor, at)."""
        where, params = "user_id = ?", [user_id]
        if block_id is not None:
            where, params = where + " AND block_id = ?", [user_id, block_id]
        return [
            (str(r[0]), str(r[1]), r[2], r[3], r[4], str(r[5]), int(r[6]))
            for r in cur.execute(
                "SELECT block_id, action, old_text, new_text, source_block_id, actor, at "
                f"FROM mi_fact_history WHERE {where} ORDER BY id",
                params,
            )
        ]

    def move_prompt_stamps(self, cur: Cursor, after_seq: int, limit: int) -> int | None:
        """Move prompt stamps that servers before schema step 5 kept in block metadata (key
        "_agentmemory") into the prompt columns, ``limit`` candidate rows after
        ``after_seq``; returns the last seq seen, or None when no rows are left."""
        rows = cur.execute(
            f"SELECT seq, metadata FROM mi_blocks WHERE seq > ? AND {self._contains('metadata')} "
            "ORDER BY seq LIMIT ?",
            (after_seq, '"_agentmemory"', limit),
        ).fetchall()
        for seq, text in rows:
            try:
                metadata = json.loads(text)
            except ValueError:
                continue
            if not isinstance(metadata, dict) or "_agentmemory" not in metadata:
                continue  # the words only occur in a value
            stamp = metadata.pop("_agentmemory")
            stamp = stamp if isinstance(stamp, dict) else {}
            name, _, number = str(stamp.get("prompt") or "").rpartition("@")
            required = stamp.get("context_required")
            cur.execute(
                "UPDATE mi_blocks SET metadata = ?, prompt_id = ?, prompt_vid = ?, "
                "context_required = ? WHERE seq = ?",
                (
                    dumps(metadata) if metadata else None,
                    name or None,
                    int(number) if name and number.isdigit() else None,
                    None if not isinstance(required, bool) else int(required),
                    seq,
                ),
            )
        return int(rows[-1][0]) if rows else None

    def prompt_text(self, cur: Cursor, prompt_id: str, vid: int | None) -> str | None:
        """The text of a registry prompt's version ``vid`` (its current one when None), or
        None when it was purged."""
        row = cur.execute(
            "SELECT v.prompt FROM mi_prompt_versions v JOIN mi_prompts p "
            "ON p.prompt_id = v.prompt_id WHERE v.prompt_id = ? "
            "AND v.vid = coalesce(?, p.current_vid)",
            (prompt_id, vid),
        ).fetchone()
        return None if row is None else str(row[0])

    def fail(self, cur: Cursor, seq: int, owner: str, max_attempts: int) -> str | None:
        row = cur.execute(
            "UPDATE mi_blocks SET fail_count = fail_count + 1, lease_owner = NULL, "
            "lease_until = NULL, status = CASE WHEN fail_count + 1 >= ? "
            "THEN 'extraction_failed' ELSE status END "
            "WHERE seq = ? AND status = 'processing' AND lease_owner = ? RETURNING status",
            (max_attempts, seq, owner),
        ).fetchone()
        return None if row is None else str(row[0])

    def count_processing(self, cur: Cursor) -> int:
        return int(
            cur.execute("SELECT count(*) FROM mi_blocks WHERE status = 'processing'").fetchone()[0]
        )

    # --- vectors and keywords -----------------------------------------------------------

    def indexed_blocks(
        self, cur: Cursor, user_id: str, after_version: int
    ) -> list[tuple[int, str, int | None, str, str, str | None, int, str, bytes]]:
        """Ready blocks of a user changed after ``after_version``, for the search index:
        (seq, session_id, expires_at, kind, text, name, created, extracted, embedding);
        ``created`` is created_at, or ingested_at for blocks added without one; ``extracted``
        the words of the block's summary and contexts ("" when not extracted)."""
        return [
            (
                int(r[0]),
                str(r[1]),
                r[2],
                str(r[3]),
                str(r[4]),
                r[5] if isinstance(r[5], str) else None,
                int(r[6]),
                str(r[7]),
                self._vector_bytes(r[8]),
            )
            for r in cur.execute(
                "SELECT seq, session_id, expires_at, kind, text, name, "
                "coalesce(created_at, ingested_at), "
                "coalesce(summary, '') || ' ' || coalesce(contexts, ''), embedding FROM mi_blocks "
                "WHERE user_id = ? AND status = 'ready' AND embedding IS NOT NULL "
                "AND index_version > ? ORDER BY seq",
                (user_id, after_version),
            )
        ]

    def indexed_chunks(
        self, cur: Cursor, user_id: str, after_version: int
    ) -> dict[int, list[bytes]]:
        """The chunk vectors of the blocks ``indexed_blocks`` returns, by seq."""
        found: dict[int, list[bytes]] = {}
        for seq, blob in cur.execute(
            "SELECT c.seq, c.embedding FROM mi_block_chunks c JOIN mi_blocks b ON b.seq = c.seq "
            "WHERE b.user_id = ? AND b.status = 'ready' AND b.embedding IS NOT NULL "
            "AND b.index_version > ? ORDER BY c.seq, c.chunk",
            (user_id, after_version),
        ):
            found.setdefault(int(seq), []).append(self._vector_bytes(blob))
        return found

    def all_block_texts(
        self, cur: Cursor, after_seq: int, limit: int
    ) -> list[tuple[int, str, str]]:
        return [
            (int(r[0]), str(r[1]), str(r[2]))
            for r in cur.execute(
                "SELECT seq, user_id, text FROM mi_blocks WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
        ]

    def set_embedding(self, cur: Cursor, seq: int, embedding: bytes, version: int) -> None:
        cur.execute(
            "UPDATE mi_blocks SET embedding = ?, index_version = ? WHERE seq = ?",
            (self._vector_param(embedding), version, seq),
        )

    def set_chunks(self, cur: Cursor, seq: int, chunks: Sequence[bytes]) -> None:
        """Replace the further windows' vectors of block ``seq`` (none: delete them)."""
        cur.execute("DELETE FROM mi_block_chunks WHERE seq = ?", (seq,))
        if chunks:
            cur.executemany(
                "INSERT INTO mi_block_chunks (seq, chunk, embedding) VALUES (?, ?, ?)",
                [(seq, i, self._vector_param(blob)) for i, blob in enumerate(chunks, 1)],
            )

    def chunks_of(self, cur: Cursor, seqs: Sequence[int]) -> dict[int, list[bytes]]:
        """The further windows' vectors of the given blocks, in window order."""
        found: dict[int, list[bytes]] = {}
        for part in chunks(seqs, 500):
            for seq, blob in cur.execute(
                f"SELECT seq, embedding FROM mi_block_chunks WHERE seq IN "
                f"({placeholders(len(part))}) ORDER BY seq, chunk",
                list(part),
            ):
                found.setdefault(int(seq), []).append(self._vector_bytes(blob))
        return found

    def has_vectors(self, cur: Cursor) -> bool:
        return (
            cur.execute("SELECT 1 FROM mi_blocks WHERE embedding IS NOT NULL LIMIT 1").fetchone()
            is not None
        )

    def reset_all_indexes(self, cur: Cursor) -> None:
        cur.execute(
            "UPDATE mi_users SET index_version = index_version + 1, "
            "reset_version = index_version + 1"
        )

    # --- export / import ----------------------------------------------------------------

    EXPORT_BLOCK_COLUMNS = (
        "seq, block_id, user_id, session_id, kind, fact, user_content, assistant_content, role, "
        "content, name, text, annotations, metadata, agent_id, created_at, ingested_at, "
        "updated_at, last_queued_at, expires_at, status, fail_count, embedding, summary, "
        "contexts, prompt_id, prompt_vid, context_required, manage_facts, source_block_id"
    )

    def user_ids(self, cur: Cursor, after: str, limit: int) -> list[str]:
        return [
            str(r[0])
            for r in cur.execute(
                "SELECT user_id FROM mi_users WHERE user_id > ? ORDER BY user_id LIMIT ?",
                (after, limit),
            )
        ]

    def user_row(self, cur: Cursor, user_id: str) -> dict[str, Any] | None:
        row = self.get_user(cur, user_id)
        if row is None:
            return None
        return dict(zip(("user_id", "name", "metadata", "created_at"), row, strict=True))

    def session_rows(self, cur: Cursor, user_id: str) -> list[dict[str, Any]]:
        names = [c.strip() for c in SESSION_COLUMNS.split(",")]
        return [
            dict(zip(names, r, strict=True))
            for r in cur.execute(
                f"SELECT {SESSION_COLUMNS} FROM mi_sessions WHERE user_id = ? "
                "ORDER BY start_time, session_id",
                (user_id,),
            )
        ]

    def block_rows(
        self, cur: Cursor, user_id: str, after_seq: int, limit: int
    ) -> list[dict[str, Any]]:
        """Raw stored blocks of a user (embedding as bytes), in insertion order."""
        names = [c.strip() for c in self.EXPORT_BLOCK_COLUMNS.split(",")]
        rows = []
        for r in cur.execute(
            f"SELECT {self.EXPORT_BLOCK_COLUMNS} FROM mi_blocks WHERE user_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (user_id, after_seq, limit),
        ):
            row = dict(zip(names, r, strict=True))
            if row["embedding"] is not None:
                row["embedding"] = self._vector_bytes(row["embedding"])
            rows.append(row)
        return rows

    def insert_user_row(self, cur: Cursor, row: dict[str, Any]) -> bool:
        cur.execute(
            "INSERT INTO mi_users (user_id, name, metadata, created_at, generation) "
            "VALUES (:user_id, :name, :metadata, :created_at, :generation) "
            "ON CONFLICT(user_id) DO NOTHING",
            {**row, "generation": new_generation()},
        )
        return cur.rowcount == 1

    def insert_session_row(self, cur: Cursor, row: dict[str, Any]) -> bool:
        cur.execute(
            "INSERT INTO mi_sessions (user_id, session_id, start_time, end_time, annotations, "
            "metadata, blocks_ttl) VALUES (:user_id, :session_id, :start_time, :end_time, "
            ":annotations, :metadata, :blocks_ttl) "
            "ON CONFLICT(user_id, session_id) DO NOTHING",
            row,
        )
        return cur.rowcount == 1

    # --- lifecycle ----------------------------------------------------------------------

    def expired_users(self, cur: Cursor, now: int) -> list[str]:
        return [
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT user_id FROM mi_blocks WHERE expires_at IS NOT NULL "
                "AND expires_at <= ?",
                (now,),
            )
        ]

    def delete_expired(self, cur: Cursor, now: int) -> int:
        cur.execute(
            "DELETE FROM mi_blocks WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        )
        return cur.rowcount

    def retention_users(self, cur: Cursor, kind: str, cutoff: int) -> list[str]:
        return [
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT user_id FROM mi_blocks WHERE kind = ? "
                "AND coalesce(created_at, ingested_at) < ?",
                (kind, cutoff),
            )
        ]

    def delete_older_than(self, cur: Cursor, kind: str, cutoff: int) -> int:
        cur.execute(
            "DELETE FROM mi_blocks WHERE kind = ? AND coalesce(created_at, ingested_at) < ?",
            (kind, cutoff),
        )
        return cur.rowcount


def _prefixed(columns: str, alias: str = "b") -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def new_generation() -> str:
    return uuid.uuid4().hex


_EXTRACTION_COLUMNS: dict[str, Any] = {
    "summary": None,
    "contexts": None,
    "prompt_id": None,
    "prompt_vid": None,
    "context_required": None,
    "manage_facts": None,
    "source_block_id": None,
}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
