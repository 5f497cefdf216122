"""Tenancy: one engine (one SQLite file) per tenant and API tree, so isolation is structural.

A request's tenant comes from its bearer token (see ``_auth``); with auth off every request
is the ``default`` tenant. No query ever spans two tenants' files.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..embedders import Embedder
from ..engine import Engine
from ..errors import AgentMemoryError, ConfigurationError, StorageBusyError
from ..storage import SQLiteDatabase
from ._config import DEFAULT_TENANT, ServerConfig, check_tenant
from ._errors import DatabaseError, storage_error
from ._prompts import PromptRegistry
from ._sap_store import SapStore

log = logging.getLogger("memory_integrations.server")


@dataclass
class MemoryTenant:
    """The Couchbase-style tree of one tenant: its engine and prompt registry."""

    name: str
    engine: Engine
    prompts: PromptRegistry


@dataclass
class SapTenant:
    """The SAP tree of one tenant."""

    name: str
    engine: Engine
    store: SapStore


class TenantRegistry:
    """Opens each tenant's stores on first use and closes them all (draining) at shutdown."""

    def __init__(
        self,
        config: ServerConfig,
        embedder: Embedder,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: dict[str, MemoryTenant] = {}
        self._sap: dict[str, SapTenant] = {}
        self._closed = False

    # --- locations ----------------------------------------------------------------------

    def memory_path(self, tenant: str) -> Path:
        if self.config.path is not None and tenant == DEFAULT_TENANT:
            return self.config.path
        return self.config.data_dir / check_tenant(tenant) / "memory.sqlite3"

    def sap_path(self, tenant: str) -> Path:
        if self.config.path is not None and tenant == DEFAULT_TENANT:
            path = self.config.path
            return path.with_name(f"{path.stem}.sap{path.suffix or '.sqlite3'}")
        return self.config.data_dir / check_tenant(tenant) / "sap.sqlite3"

    # --- opening ------------------------------------------------------------------------

    def _open_engine(self, path: Path) -> Engine:
        database: SQLiteDatabase | None = None
        try:
            database = SQLiteDatabase(path)
            return Engine(
                database, embedder=self.embedder, settings=self.config.settings, clock=self._clock
            )
        except ConfigurationError as exc:  # an unusable data directory: the operator's to fix
            if database is not None:
                database.close()
            raise StorageBusyError(
                f"the tenant's storage cannot be opened ({exc}); the operator must fix the "
                "data directory, then retry"
            ) from exc
        except AgentMemoryError as exc:
            if database is not None:
                database.close()
            raise DatabaseError(f"cannot open the tenant store {path.name}: {exc}") from exc
        except Exception as exc:
            if database is not None:
                database.close()
            mapped = storage_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def memory(self, tenant: str) -> MemoryTenant:
        found = self._memory.get(tenant)
        if found is not None:
            return found
        with self._lock:
            self._check_open()
            found = self._memory.get(tenant)
            if found is None:
                engine = self._open_engine(self.memory_path(tenant))
                try:
                    prompts = PromptRegistry(engine.database, clock=self._clock)
                except BaseException:
                    engine.close(drain=False)
                    raise
                found = MemoryTenant(tenant, engine, prompts)
                self._memory[tenant] = found
                log.info("opened memory store of tenant %s", tenant)
            return found

    def sap(self, tenant: str) -> SapTenant:
        found = self._sap.get(tenant)
        if found is not None:
            return found
        with self._lock:
            self._check_open()
            found = self._sap.get(tenant)
            if found is None:
                engine = self._open_engine(self.sap_path(tenant))
                try:
                    store = SapStore(engine)
                except BaseException:
                    engine.close(drain=False)
                    raise
                found = SapTenant(tenant, engine, store)
                self._sap[tenant] = found
                log.info("opened SAP store of tenant %s", tenant)
            return found

    def _check_open(self) -> None:
        if self._closed:
            from ..errors import ServiceUnavailableError

            raise ServiceUnavailableError(
                "the server is shutting down; retry against the restarted server",
                retry_after=1.0,
            )

    # --- status and shutdown ------------------------------------------------------------

    def reopen(self) -> None:
        """Accept work again after :meth:`close` (an app served a second time)."""
        with self._lock:
            self._closed = False

    def engines(self, tenant: str | None = None) -> list[Engine]:
        """Open engines (of one tenant, or all)."""
        with self._lock:
            found: list[Engine] = [
                t.engine for t in self._memory.values() if tenant in (None, t.name)
            ]
            found += [t.engine for t in self._sap.values() if tenant in (None, t.name)]
        return found

    def processor_stats(self, tenant: str | None = None) -> dict[str, Any]:
        """Queue figures summed over the open engines (of one tenant, or all)."""
        queue = {"size": 0, "queued_ids": 0, "processing": 0, "max_size": 0}
        stats: dict[str, int] = {}
        alive = True
        for engine in self.engines(tenant):
            worker = engine._worker
            if worker is None:
                continue
            alive = alive and worker.alive
            size, flight = worker.size, worker.in_flight
            queue["size"] += size
            queue["queued_ids"] += size
            queue["processing"] += flight
            queue["max_size"] += worker.max_size
            s = worker.stats
            for key, value in (
                ("total_enqueued", s.total_enqueued),
                ("total_recovered", s.total_recovered),
                ("total_completed", s.total_completed),
                ("total_failed", s.total_failed),
                ("queue_full", s.queue_full),
            ):
                stats[key] = stats.get(key, 0) + value
            stats["active_tasks"] = stats.get("active_tasks", 0) + flight
        return {"queue": queue, "statistics": stats, "alive": alive}

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(
            engine.wait_until_processed(max(0.0, deadline - time.monotonic()))
            for engine in self.engines()
        )

    def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop accepting work, finish queued embeddings (bounded) and close every store."""
        with self._lock:
            self._closed = True
            tenants: list[MemoryTenant | SapTenant] = [*self._memory.values(), *self._sap.values()]
            self._memory.clear()
            self._sap.clear()
        deadline = time.monotonic() + timeout
        for tenant in tenants:
            try:
                tenant.engine.close(drain=drain, timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("closing a store of tenant %s failed", tenant.name)
