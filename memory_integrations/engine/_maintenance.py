"""The engine's upkeep: background processing, TTL and retention, reindex, export and
import, health, and the server's tenant-wide views."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .. import validation
from .._models import (
    ComponentHealth,
    HealthPingResponse,
    HealthResponse,
    HealthStatus,
    ModelsHealth,
    ProcessorHealth,
    QueueStats,
    RetentionConfig,
)
from .._version import __version__
from ..embedders import Embedder
from ..errors import (
    AgentMemoryError,
    EmbedderMismatchError,
    RateLimitError,
)
from ..retrieval import (
    IndexCache,
)
from ..storage import (
    BlockRow,
    TenantQuery,
    from_us,
)
from . import _transfer
from ._base import further_windows, log
from ._extraction import (
    RATE_LIMIT_WAIT,
    ExtractionJob,
    ExtractionStage,
    derives_facts,
    stored_extraction,
    wants_extraction,
)
from ._facts import FactManager

_US = 1_000_000

ENGINE_METRICS: dict[str, tuple[str, str]] = {
    "agentmemory_processing_queue_depth": ("gauge", "Blocks waiting to be processed."),
    "agentmemory_processing_in_flight": ("gauge", "Blocks being processed now."),
    "agentmemory_processing_enqueued_total": ("counter", "Blocks queued for processing."),
    "agentmemory_processing_recovered_total": (
        "counter",
        "Blocks a stopped process left queued, picked up again.",
    ),
    "agentmemory_processing_completed_total": ("counter", "Blocks processed (ready)."),
    "agentmemory_processing_retries_total": (
        "counter",
        "Failed tries (extraction or embedding) that will be tried again.",
    ),
    "agentmemory_processing_rate_limited_total": (
        "counter",
        "Blocks delayed by a rate-limited extraction model (no try lost).",
    ),
    "agentmemory_processing_queue_full_total": (
        "counter",
        "Adds refused because the processing queue was full.",
    ),
    "agentmemory_processing_batches_total": ("counter", "Processing batches run."),
    "agentmemory_processing_busy_seconds_total": ("counter", "Seconds spent processing."),
    "agentmemory_async_batch_permanent_failures_total": (
        "counter",
        "Blocks that failed every try (extraction_failed).",
    ),
}
"""The engine's metrics: name -> (Prometheus type, help)."""

_MIN_FREE_BYTES = 1 << 20  # below this, health reports the disk as full


class Maintenance(ExtractionStage, FactManager):
    """Everything but the per-call reads and writes of blocks (a part of :class:`Engine`)."""

    # --- processing ---------------------------------------------------------------------

    def _process_batch(self, seqs: list[int]) -> list[tuple[int, float | None]]:
        """Extract (with a model configured) and embed claimed blocks; returns the blocks to
        try again, each with its wait."""
        worker = self._worker_ref
        now = self._now()
        lease_until = now + int(self.settings.lease_seconds * _US)
        try:
            with self.database.transaction() as cur:
                self._require_stored_embedder(cur)
                claimed = self._store.claim(cur, seqs, worker.owner, now, lease_until)
                inputs = {}  # the rows' extraction choices, read only when there is a model
                if self.extractor is not None and claimed:
                    inputs = self._store.extraction_inputs(cur, [c[0] for c in claimed])
        except EmbedderMismatchError as exc:
            # Another process re-embedded the store: leave these blocks queued in storage for
            # a process with the store's embedder, rather than writing foreign vectors.
            if not self._warned_mismatch:
                self._warned_mismatch = True
                log.error("not processing blocks: %s", exc)
            return []
        if not claimed:
            return []
        extracted = self._extract(
            [
                ExtractionJob(
                    seq,
                    text,
                    row.prompt_id,
                    row.prompt_vid,
                    derives_facts(row.manage_facts, row.kind),
                )
                for seq, _, text, _ in claimed
                if seq in inputs
                for row in [inputs[seq]]
                if wants_extraction(row.context_required, row.annotations)
            ]
        )
        for seq, result in list(extracted.done.items()):
            row = inputs[seq]
            if not (result.facts and derives_facts(row.manage_facts, row.kind)):
                continue
            try:
                self._derive_facts(row.user_id, row.session_id, list(result.facts), row.block_id)
            except RateLimitError as exc:
                extracted.rate_limited[seq] = float(exc.retry_after or RATE_LIMIT_WAIT)
                del extracted.done[seq]
            except Exception as exc:  # a failed decision is a failed try of the message
                log.warning("managing the facts of block seq %d failed: %s", seq, exc)
                extracted.failed[seq] = str(exc)
                del extracted.done[seq]
        waiting = [(seq, wait) for seq, wait in extracted.rate_limited.items()]
        failed = [c for c in claimed if c[0] in extracted.failed]
        claimed = [c for c in claimed if c[0] not in extracted.failed]
        claimed = [c for c in claimed if c[0] not in extracted.rate_limited]
        done: list[tuple[int, str, np.ndarray]] = []
        try:
            vectors = self._embed([text for _, _, text, _ in claimed])
            done = [
                (seq, user, vec) for (seq, user, _, _), vec in zip(claimed, vectors, strict=True)
            ]
        except Exception as exc:
            log.warning("embedding a batch of %d blocks failed: %s", len(claimed), exc)
            # One bad input must not fail its neighbours: retry the batch one by one.
            for item in claimed if len(claimed) > 1 else []:
                try:
                    done.append((item[0], item[1], self._embed([item[2]])[0]))
                except Exception:
                    failed.append(item)
            if len(claimed) == 1:
                failed += claimed
        if done:
            with self.database.transaction() as cur:
                self._store.lock_users(cur, [user_id for _, user_id, _ in done])
                for seq, user_id, windows in done:
                    version = self._store.bump_index_version(cur, user_id, reset=False)
                    owner, first = worker.owner, windows[0].tobytes()
                    extraction = extracted.done.get(seq)
                    summary = None if extraction is None else stored_extraction(extraction)
                    if self._store.complete(cur, seq, owner, first, version, now, summary):
                        self._store.set_chunks(cur, seq, further_windows(windows))
        retry: list[tuple[int, float | None]] = list(waiting)  # rate limited: no try lost
        worker.stats.total_rate_limited += len(waiting)
        if failed:
            retry += self._record_failures(failed)
        return retry

    def _record_failures(
        self, claimed: list[tuple[int, str, str, int]]
    ) -> list[tuple[int, float | None]]:
        """Count a failed try of each block; returns those to try again, backing off."""
        worker = self._worker_ref
        retry: list[tuple[int, float | None]] = []
        with self.database.transaction() as cur:
            for seq, _, _, fail_count in claimed:
                status = self._store.fail(cur, seq, worker.owner, self.settings.max_attempts)
                if status == "processing":
                    worker.stats.total_retries += 1
                    retry.append((seq, worker.RETRY_SECONDS * 2**fail_count))
                elif status == "extraction_failed":
                    worker.stats.total_failed += 1
        return retry

    def _recover(self) -> list[int]:
        with self.database.read() as cur:
            return self._store.pending(cur, self._now(), self.settings.max_attempts, 10_000)

    def wait_until_processed(self, timeout: float | None = 60.0) -> bool:
        """Wait until every queued block has been embedded (or has failed for good)."""
        return True if self._worker is None else self._worker.wait_idle(timeout)

    # --- lifecycle ----------------------------------------------------------------------

    def sweep(self) -> dict[str, int]:
        """Delete expired blocks and blocks past the retention policy. Safe to run anywhere."""
        now = self._now()
        retention = self.get_retention()
        removed = {"expired": 0, "messages_past_retention": 0, "facts_past_retention": 0}
        cutoffs = [
            (kind, now - days * 86_400 * _US, key)
            for kind, days, key in (
                ("message", retention.message_days, "messages_past_retention"),
                ("fact", retention.memory_days, "facts_past_retention"),
            )
            if days is not None
        ]
        with self.database.transaction() as cur:
            users = set(self._store.expired_users(cur, now))
            for kind, cutoff, _ in cutoffs:
                users.update(self._store.retention_users(cur, kind, cutoff))
            self._store.lock_users(cur, users)
            removed["expired"] = self._store.delete_expired(cur, now)
            for kind, cutoff, key in cutoffs:
                removed[key] = self._store.delete_older_than(cur, kind, cutoff)
            for user_id in users:
                self._store.bump_index_version(cur, user_id, reset=True)
        return removed

    def get_retention(self) -> RetentionConfig:
        with self.database.read() as cur:
            raw = self._store.get_meta(cur, "retention")
        return RetentionConfig() if raw is None else RetentionConfig.model_validate_json(raw)

    def set_retention(
        self,
        message_days: int | Literal["keep"] | None = "keep",
        memory_days: int | Literal["keep"] | None = "keep",
    ) -> RetentionConfig:
        """Partial update; ``None`` disables a category's clean-up, ``"keep"`` leaves it."""
        current = self.get_retention()
        values = current.model_dump()
        for name, value in (("message_days", message_days), ("memory_days", memory_days)):
            if value == "keep":
                continue
            values[name] = validation.check_days(value, name)
        values["updated_at"] = from_us(self._now())
        config = RetentionConfig.model_validate(values)
        with self.database.transaction() as cur:
            self._store.set_meta(cur, "retention", config.model_dump_json())
        return config

    def reindex(
        self,
        embedder: Embedder,
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Re-embed every block with ``embedder`` and make it the store's embedder."""
        self.wait_until_processed()
        self.embedder = embedder
        self._indexes = IndexCache(embedder.dim, self._index_budget())
        self._database_search = self._open_database_search(embedder.dim)
        done, after = 0, 0
        while True:
            with self.database.read() as cur:
                chunk = self._store.all_block_texts(cur, after, batch_size)
            if not chunk:
                break
            vectors = self._embed([text for _, _, text in chunk])
            with self.database.transaction() as cur:
                self._store.lock_users(cur, [user_id for _, user_id, _ in chunk])
                for (seq, user_id, _), windows in zip(chunk, vectors, strict=True):
                    version = self._store.bump_index_version(cur, user_id, reset=False)
                    self._store.set_embedding(cur, seq, windows[0].tobytes(), version)
                    self._store.set_chunks(cur, seq, further_windows(windows))
            after = chunk[-1][0]
            done += len(chunk)
            if progress is not None:
                progress(len(chunk))
        with self.database.transaction() as cur:
            self._store.set_meta(cur, "embedder_name", embedder.name)
            self._store.set_meta(cur, "embedder_dim", str(embedder.dim))
            self._store.reset_all_indexes(cur)
        return done

    def export_records(self, user_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Stream one user's (or every user's) records for ``import_records``."""
        if user_id is not None:
            validation.check_id(user_id, "user_id")
            with self.database.read() as cur:
                self._require_user(cur, user_id)  # NotFoundError before the first record
        return _transfer.export_records(self._store, self.database, self.embedder, user_id)

    def count_export_blocks(self, user_id: str | None = None) -> int:
        """How many block records ``export_records(user_id)`` will yield."""
        return _transfer.count_records(self.database, user_id)

    def import_records(
        self, records: Iterable[object], progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Insert exported records, all or nothing; refuses users that already exist.

        Every record is checked as the API checks its arguments; a bad one raises a typed
        error naming the record and leaves the store as it was.
        """
        result = _transfer.import_records(
            self._store, self.database, self.embedder, records, progress
        )
        if result.queued and self._worker is not None:
            self._worker.submit(result.queued)
        return result.counts

    def health(self, entity: str | None = None) -> HealthPingResponse:
        checked: list[str] = []
        storage = self._storage_health()
        checked.append("storage")
        try:
            self._embed_query("health check")
            embedding = ComponentHealth(status="healthy", model=self.embedder.name)
        except Exception as exc:
            embedding = ComponentHealth(
                status="unhealthy", model=self.embedder.name, details={"error": str(exc)}
            )
        checked.append("models")
        models = ModelsHealth(
            status=HealthStatus.HEALTHY
            if embedding.status == "healthy"
            else HealthStatus.UNHEALTHY,
            embedding=embedding,
            llm=self._llm_health(),
        )
        processor = self.processing_status()
        checked.append("async-batch-processor")
        healthy = (
            storage["status"] == "healthy"
            and embedding.status == "healthy"
            and processor.status in ("healthy", "not_initialized")
        )
        status = HealthStatus.HEALTHY if healthy else HealthStatus.DEGRADED
        return HealthPingResponse(
            server=HealthResponse(
                status=status, version=__version__, uptime_seconds=time.monotonic() - self._started
            ),
            storage=storage,
            models=models,
            async_batch_processor=processor,
            overall_status=status,
            checked_entities=["server", *checked],
        )

    def pending_count(self) -> int:
        """How many blocks in the store still wait to be embedded, by any process."""
        with self.database.read() as cur:
            return self._store.count_processing(cur)

    def metrics(self) -> dict[str, float]:
        """This engine's processing counters, by their Prometheus names (``ENGINE_METRICS``);
        a server's ``/metrics`` sums them over its tenants."""
        worker = self._worker
        if worker is None:
            return dict.fromkeys(ENGINE_METRICS, 0.0)
        stats = worker.stats
        return {
            "agentmemory_processing_queue_depth": float(worker.size),
            "agentmemory_processing_in_flight": float(worker.in_flight),
            "agentmemory_processing_enqueued_total": float(stats.total_enqueued),
            "agentmemory_processing_recovered_total": float(stats.total_recovered),
            "agentmemory_processing_completed_total": float(stats.total_completed),
            "agentmemory_processing_retries_total": float(stats.total_retries),
            "agentmemory_processing_rate_limited_total": float(stats.total_rate_limited),
            "agentmemory_processing_queue_full_total": float(stats.queue_full),
            "agentmemory_processing_batches_total": float(stats.batches),
            "agentmemory_processing_busy_seconds_total": stats.seconds_busy,
            "agentmemory_async_batch_permanent_failures_total": float(stats.total_failed),
        }

    def processing_status(self) -> ProcessorHealth:
        """The background processing worker: alive, queue sizes and counters."""
        worker = self._worker
        if worker is None:
            return ProcessorHealth(status="not_initialized")
        stats = worker.stats
        return ProcessorHealth(
            status="healthy" if worker.alive else "unhealthy",
            queue=QueueStats(
                size=worker.size,
                queued_ids=worker.size,
                processing=worker.in_flight,
                max_size=worker.max_size,
            ),
            statistics={
                "total_enqueued": stats.total_enqueued,
                "total_recovered": stats.total_recovered,
                "total_completed": stats.total_completed,
                "total_failed": stats.total_failed,
                "queue_full": stats.queue_full,
            },
            loop_running=worker.alive,
            dispatcher_alive=worker.alive,
        )

    def now_us(self) -> int:
        """The engine's clock, in epoch microseconds (the unit of stored times)."""
        return self._now()

    def tenant_blocks(
        self,
        kind: Literal["fact", "message"],
        *,
        equals: Mapping[str, str] | None = None,
        contains: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
        with_total: bool = False,
    ) -> tuple[list[BlockRow], int | None]:
        """Live blocks of one kind across every user of this store, oldest first (the SAP
        API's entity lists); ``equals`` / ``contains`` filter columns of ``TenantQuery``."""
        q = TenantQuery(kind, self._now(), dict(equals or {}), dict(contains or {}))
        with self.database.read() as cur:
            return self._store.tenant_blocks(cur, q, limit, offset, with_total)

    def blocks_by_block_id(self, block_ids: Sequence[str]) -> list[BlockRow]:
        """Stored rows of these blocks, whoever they belong to (for server-side views)."""
        if not block_ids:
            return []
        with self.database.read() as cur:
            return self._store.blocks_by_block_id(cur, block_ids)

    def _storage_health(self) -> dict[str, Any]:
        """Whether storage answers reads and takes a write (a full disk or a read-only file
        fails the write), with the free disk space of a SQLite file."""
        report: dict[str, Any] = {
            "dialect": self.database.dialect,
            "location": self.database.location,
        }
        try:
            with self.database.read() as cur:
                report["processing_blocks"] = self._store.count_processing(cur)
            with self.database.transaction() as cur:
                self._store.set_meta(cur, "health_probe", str(self._now()))
        except Exception as exc:
            report.update(status="unhealthy", error=str(exc))
            if isinstance(exc, AgentMemoryError) and getattr(exc, "retry_after", None):
                report["retry_after"] = exc.retry_after  # type: ignore[attr-defined]
            return report
        report["status"] = "healthy"
        if self.database.dialect == "sqlite" and self.database.location != ":memory:":
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(
                    os.path.dirname(os.path.abspath(self.database.location))
                ).free
                report["disk_free_bytes"] = free
                if free < _MIN_FREE_BYTES:  # small writes may still fit; larger ones fail
                    report.update(
                        status="unhealthy",
                        error=f"the disk under {self.database.location} is full "
                        f"({free} bytes free); free space",
                        retry_after=30.0,
                    )
        return report
