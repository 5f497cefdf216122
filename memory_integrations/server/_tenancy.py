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
from typing import Any, Literal, TypeVar

from ..embedders import Embedder
from ..engine import Engine
from ..errors import (
    AgentMemoryError,
    CapacityError,
    ConfigurationError,
    ServiceUnavailableError,
    StorageBusyError,
)
from ..storage import SQLiteDatabase, has_pending_blocks
from ._config import DEFAULT_TENANT, TENANT_NAME, ServerConfig, check_tenant
from ._errors import DatabaseError, storage_error
from ._sap_store import SapStore

log = logging.getLogger("memory_integrations.server")
Tree = Literal["memory", "sap"]
T = TypeVar("T", "MemoryTenant", "SapTenant")


@dataclass
class MemoryTenant:
    """The Couchbase-style tree of one tenant: its engine (which holds the prompt registry)."""

    name: str
    engine: Engine


@dataclass
class SapTenant:
    """The SAP tree of one tenant."""

    name: str
    engine: Engine
    store: SapStore


class TenantRegistry:
    """Opens each tenant's stores on first use and closes them all (draining) at shutdown.

    At start, :meth:`resume_pending` also opens the stores a previous run left with
    ``processing`` blocks, lets their workers finish them, and closes them again unless a
    request has used them meanwhile.
    """

    RESUME_PARALLEL = 4

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
        self._gates: dict[tuple[str, str], threading.Lock] = {}
        self._resuming: set[tuple[str, str]] = set()  # opened for a resume, no request yet
        self._closed = False
        self.opened_count = 0

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

    def stores_on_disk(self) -> list[tuple[Tree, str, Path]]:
        """(tree, tenant, file) of every existing store this server would serve."""
        found: list[tuple[Tree, str, Path]] = []
        if self.config.path is not None:
            tenants = [DEFAULT_TENANT]
        elif self.config.data_dir.is_dir():
            tenants = sorted(
                d.name
                for d in self.config.data_dir.iterdir()
                if d.is_dir() and TENANT_NAME.match(d.name)
            )
        else:
            tenants = []
        for tenant in tenants:
            if (memory := self.memory_path(tenant)).is_file():
                found.append(("memory", tenant, memory))
            if (sap := self.sap_path(tenant)).is_file():
                found.append(("sap", tenant, sap))
        return found

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
        except (ServiceUnavailableError, CapacityError):  # transient (busy, full disk)
            if database is not None:
                database.close()
            raise
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

    def _open_memory(self, tenant: str) -> MemoryTenant:
        engine = self._open_engine(self.memory_path(tenant))
        try:
            return MemoryTenant(tenant, engine)
        except BaseException:
            engine.close(drain=False)
            raise

    def _open_sap(self, tenant: str) -> SapTenant:
        engine = self._open_engine(self.sap_path(tenant))
        try:
            return SapTenant(tenant, engine, SapStore(engine))
        except BaseException:
            engine.close(drain=False)
            raise

    def memory(self, tenant: str) -> MemoryTenant:
        """The tenant's Couchbase-style tree, opened on first use."""
        return self._acquire(self._memory, "memory", tenant, self._open_memory, adopt=True)

    def sap(self, tenant: str) -> SapTenant:
        """The tenant's SAP tree, opened on first use."""
        return self._acquire(self._sap, "sap", tenant, self._open_sap, adopt=True)

    def _acquire(
        self,
        table: dict[str, T],
        tree: Tree,
        tenant: str,
        opener: Callable[[str], T],
        *,
        adopt: bool,
    ) -> T:
        """The open store, else open it (outside the registry lock: one gate per store).

        ``adopt`` (a request) keeps a store the resume pass opened; without it (the resume
        pass) a newly opened store is marked for closing once drained.
        """
        key = (tree, tenant)
        with self._lock:
            self._check_open()
            found = table.get(tenant)
            if found is not None:
                if adopt:
                    self._resuming.discard(key)
                return found
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                self._check_open()
                found = table.get(tenant)
                if found is not None:
                    if adopt:
                        self._resuming.discard(key)
                    return found
            made = opener(tenant)
            with self._lock:
                closed = self._closed
                if not closed:
                    table[tenant] = made
                    self.opened_count += 1
                    if not adopt:
                        self._resuming.add(key)
            if closed:
                made.engine.close(drain=False)
                self._check_open()
            log.info("opened %s store of tenant %s", tree, tenant)
            return made

    def _check_open(self) -> None:
        if self._closed:
            raise ServiceUnavailableError(
                "the server is shutting down; retry against the restarted server",
                retry_after=1.0,
            )

    # --- resuming what a previous run left ------------------------------------------------

    def resume_pending(self, stop: threading.Event, poll: float = 0.5) -> int:
        """Open every store holding ``processing`` blocks (fail_count below the maximum),
        let its worker finish them, then close it unless a request adopted it meanwhile.

        At most ``RESUME_PARALLEL`` stores are held at once, so thousands of tenants do not
        mean thousands of open files. Returns how many stores were resumed.
        """
        attempts = self.config.settings.max_attempts
        todo = [s for s in self.stores_on_disk() if has_pending_blocks(s[2], attempts)]
        if todo:
            log.info("resuming processing blocks left in %d store(s)", len(todo))
        active: list[tuple[Tree, str, Path]] = []
        resumed = 0
        while (todo or active) and not stop.is_set():
            while todo and len(active) < self.RESUME_PARALLEL:
                tree, tenant, path = todo.pop(0)
                try:
                    if tree == "memory":
                        self._acquire(self._memory, tree, tenant, self._open_memory, adopt=False)
                    else:
                        self._acquire(self._sap, tree, tenant, self._open_sap, adopt=False)
                except Exception as exc:
                    log.warning("cannot resume the %s store of tenant %s: %s", tree, tenant, exc)
                    continue
                active.append((tree, tenant, path))
                resumed += 1
            stop.wait(poll)
            still: list[tuple[Tree, str, Path]] = []
            for tree, tenant, path in active:
                if has_pending_blocks(path, attempts):
                    still.append((tree, tenant, path))
                else:
                    self._release_if_unused(tree, tenant)
            active = still
        return resumed

    def _release_if_unused(self, tree: Tree, tenant: str) -> None:
        """Close a store the resume pass opened, unless a request has used it since."""
        with self._lock:
            if (tree, tenant) not in self._resuming:
                return
            self._resuming.discard((tree, tenant))
            table: dict[str, Any] = self._memory if tree == "memory" else self._sap
            held = table.pop(tenant)
        held.engine.close(drain=True, timeout=self.config.drain_timeout)
        log.info("closed the %s store of tenant %s: its resumed blocks are done", tree, tenant)

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
            status = engine.processing_status()
            if status.queue is None:  # no worker
                continue
            alive = alive and bool(status.loop_running)
            queue["size"] += status.queue.size
            queue["queued_ids"] += status.queue.queued_ids
            queue["processing"] += status.queue.processing
            queue["max_size"] += status.queue.max_size
            for key, value in (status.statistics or {}).items():
                stats[key] = stats.get(key, 0) + value
            stats["active_tasks"] = stats.get("active_tasks", 0) + status.queue.processing
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
            self._resuming.clear()
        deadline = time.monotonic() + timeout
        for tenant in tenants:
            try:
                tenant.engine.close(drain=drain, timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("closing a store of tenant %s failed", tenant.name)
