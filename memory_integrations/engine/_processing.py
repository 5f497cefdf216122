"""The background worker that embeds blocks added with ``async_processing=True``."""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AgentMemoryError, ClientClosedError, RateLimitError

log = logging.getLogger("memory_integrations.processing")


@dataclass
class ProcessorStats:
    total_enqueued: int = 0
    total_recovered: int = 0
    total_completed: int = 0
    total_failed: int = 0  # permanently: extraction_failed
    total_retries: int = 0  # failed tries that will be tried again
    total_rate_limited: int = 0  # blocks delayed by a rate-limited model
    queue_full: int = 0
    batches: int = 0
    seconds_busy: float = 0.0


class ProcessingWorker:
    """One daemon thread per engine: drains the queue, retries failures, runs sweeps.

    ``process(seqs)`` does the work and returns the seqs to retry later, each with the
    seconds to wait first (``None``: ``RETRY_SECONDS``); ``recover()``
    returns processing blocks nobody holds (e.g. left by a crash) and ``sweep()`` runs
    TTL/retention clean-up. The queue is bounded: ``reserve`` raises ``RateLimitError``
    with a retry-after estimate when it is full, before anything is written.
    """

    LINGER_SECONDS = 0.02
    RETRY_SECONDS = 0.5  # before a batch that failed is tried again (unless told longer)

    def __init__(
        self,
        *,
        process: Callable[[list[int]], list[tuple[int, float | None]]],
        recover: Callable[[], list[int]],
        sweep: Callable[[], object],
        max_size: int,
        batch_size: int,
        sweep_interval: float,
        recover_interval: float,
    ) -> None:
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self._process = process
        self._recover = recover
        self._sweep = sweep
        self.max_size = max_size
        self.batch_size = batch_size
        self._sweep_interval = sweep_interval
        self._recover_interval = recover_interval
        self._queue: deque[int] = deque()
        self._queued: set[int] = set()
        self._retry: list[tuple[float, int]] = []
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._recovered_once = False  # until the first recovery, storage may hold work
        self.stats = ProcessorStats()
        self._thread = threading.Thread(target=self._run, name="memory-processing", daemon=True)
        self._thread.start()

    # --- producer side ------------------------------------------------------------------

    def reserve(self, n: int) -> None:
        """Raise ``RateLimitError`` if ``n`` more blocks would overflow the queue."""
        with self._cond:
            if self._stopping:
                raise ClientClosedError("the memory client is closed; open a new one")
            waiting = len(self._queue) + len(self._retry) + self._in_flight
            if waiting + n > self.max_size:
                self.stats.queue_full += 1
                raise RateLimitError(
                    f"the processing queue is full ({waiting} of {self.max_size} blocks wait "
                    "for embedding); retry after the indicated delay, add with "
                    "async_processing=False, or raise MEMORY_INTEGRATIONS_QUEUE_MAX_SIZE",
                    retry_after=self._retry_after(waiting),
                )

    def _retry_after(self, waiting: int) -> float:
        rate = (
            self.stats.total_completed / self.stats.seconds_busy if self.stats.seconds_busy else 0
        )
        if rate <= 0:
            return 1.0
        return float(max(1, math.ceil(waiting / rate)))

    def submit(self, seqs: list[int], *, recovered: bool = False) -> None:
        with self._cond:
            fresh = [s for s in seqs if s not in self._queued]
            self._queue.extend(fresh)
            self._queued.update(fresh)
            if recovered:
                self.stats.total_recovered += len(fresh)
            else:
                self.stats.total_enqueued += len(fresh)
            self._cond.notify()

    # --- state --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._retry)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued, retrying or being processed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._retry or self._in_flight or not self._recovered_once:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(timeout=0.05 if remaining is None else min(remaining, 0.05))
        return True

    def stop(self, *, drain: bool = True, timeout: float = 30.0) -> bool:
        """Stop the thread; with ``drain`` finish queued work first (bounded by timeout).

        Work left undone stays ``processing`` in storage and is recovered on next open.
        """
        idle = self.wait_idle(timeout) if drain else False
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=max(timeout, 1.0))
        return idle

    # --- worker side --------------------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic() + self._sweep_interval
        next_recover = time.monotonic()  # recover at once: re-queue what a restart left
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                while self._retry and self._retry[0][0] <= now:
                    _, seq = heapq.heappop(self._retry)
                    if seq not in self._queued:
                        self._queue.append(seq)
                        self._queued.add(seq)
                if not self._queue:
                    wake = min(next_sweep, next_recover)
                    if self._retry:
                        wake = min(wake, self._retry[0][0])
                    if wake > now:
                        self._cond.wait(timeout=min(wake - now, 1.0))
                # Linger briefly so a burst of adds is embedded as one batch: the model is
                # ~3x faster per text at batch 32 than at batch 1.
                linger_until = time.monotonic() + self.LINGER_SECONDS
                while 0 < len(self._queue) < self.batch_size and not self._stopping:
                    remaining = linger_until - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(timeout=remaining)
                batch: list[int] = []
                while self._queue and len(batch) < self.batch_size:
                    seq = self._queue.popleft()
                    self._queued.discard(seq)
                    batch.append(seq)
                self._in_flight += len(batch)
            if batch:
                self._run_batch(batch)
            now = time.monotonic()
            if now >= next_recover:
                next_recover = now + self._recover_interval
                self._guarded(self._recover_pending)
            if now >= next_sweep:
                next_sweep = now + self._sweep_interval
                self._guarded(self._sweep)

    def _recover_pending(self) -> None:
        try:
            seqs = self._recover()
            if seqs:
                self.submit(seqs, recovered=True)
        finally:
            with self._cond:
                self._recovered_once = True
                self._cond.notify_all()

    def _run_batch(self, batch: list[int]) -> None:
        started = time.monotonic()
        retry: list[tuple[int, float | None]] = []
        try:
            retry = self._process(batch)
        except ClientClosedError:  # closed without draining: the blocks wait in storage
            pass
        except AgentMemoryError as exc:  # storage trouble (busy, full disk): wait as it says
            delay = max(self.RETRY_SECONDS, float(getattr(exc, "retry_after", None) or 0))
            retry = [(seq, delay) for seq in batch]
            log.warning(
                "processing a batch of %d blocks failed (%s); retrying in %.1f s",
                len(batch),
                exc,
                delay,
            )
        except Exception:  # unexpected: keep the traceback, try the whole batch again
            log.exception("processing a batch of %d blocks failed; will retry", len(batch))
            retry = [(seq, None) for seq in batch]
        finally:
            elapsed = time.monotonic() - started
            with self._cond:
                self.stats.batches += 1
                self.stats.seconds_busy += elapsed
                self.stats.total_completed += len(batch) - len(retry)
                now = time.monotonic()
                for seq, wait in retry:
                    due = now + (self.RETRY_SECONDS if wait is None else wait)
                    heapq.heappush(self._retry, (due, seq))
                self._in_flight -= len(batch)
                self._cond.notify_all()

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except ClientClosedError:
            pass  # closed while this ran; the next open picks up where it stopped
        except Exception:
            log.exception("background maintenance failed; will try again")
