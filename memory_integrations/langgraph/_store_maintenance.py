"""The store's maintenance: who owns what (for ``erase``), TTL refresh and sweeps, reindex.

A mixin of :class:`~memory_integrations.langgraph.AgentMemoryStore`, kept apart so each
module has one job.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from ..storage import chunks, placeholders
from ..validation import check_id
from ._store_checks import _check_namespace
from ._store_index import IndexedItems
from ._store_sql import _CHUNK, _NOT_EXPIRED, _ns_text, _ns_tuple, _scope

logger = logging.getLogger("memory_integrations.langgraph._store")


class StoreMaintenance(IndexedItems):
    """Ownership, TTL and reindex (see the module docstring)."""

    ttl_config: Any
    _sweeper: threading.Thread | None
    _sweeper_future: concurrent.futures.Future[None] | None
    _stop: threading.Event
    _sweeper_lock: threading.Lock

    def _now(self) -> int:
        raise NotImplementedError

    @property
    def omit_expired(self) -> bool:
        """Whether reads hide expired items before a sweep deletes them.

        ``TTLConfig["omit_expired"]``, read at each call (default False, as in LangGraph:
        an expired item is returned, and a read that refreshes its TTL revives it, until
        ``sweep_ttl()`` or the sweeper deletes it).
        """
        return bool(self.ttl_config and self.ttl_config.get("omit_expired"))

    def _read_cutoff(self) -> int:
        """Reads return items that expire after this time (epoch microseconds)."""
        return self._now() if self.omit_expired else 0

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
                    [now, version, *chunk, self._read_cutoff()],
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
