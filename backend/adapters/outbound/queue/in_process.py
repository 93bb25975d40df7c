"""An in-process job queue: a small thread pool, retries with backoff, failed jobs kept.

Embedded mode runs one process, so jobs live in its memory. A crash loses the queued jobs,
but not the work: their events stay in the log, projections follow the log from their own
checkpoints, and the transfer engine claims every pending transfer from its work table.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import BatchHandler, FailedJob

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.1, 0.5, 2.0, 10.0)


@dataclass
class _Job:
    """One batch and how often it was tried."""

    job_id: str
    events: list[StoredEvent]
    attempts: int = 0


class InProcessJobQueue:
    """JobQueue whose jobs run on a thread pool of this process."""

    def __init__(
        self,
        handler: BatchHandler,
        workers: int = 4,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        keep_failed: int = 1000,
        on_success: BatchHandler | None = None,
    ) -> None:
        self._handler = handler
        #: Called with a job's events once it succeeded (the relay's in-flight rows).
        self._on_success = on_success
        self._retry_delays = tuple(retry_delays)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hexbank-job")
        self._failed: deque[FailedJob] = deque(maxlen=keep_failed)
        self._ids = itertools.count(1)
        self._timers: dict[str, threading.Timer] = {}
        self._unfinished = 0
        self._idle = threading.Condition()
        self._closed = False

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        for batch in batches:
            with self._idle:
                self._unfinished += 1
            self._submit(_Job(f"job-{next(self._ids)}", list(batch)))

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return list(reversed(self._failed))[:limit]

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every job finished or failed for good; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, wait: bool = True) -> None:
        """Stop taking retries and shut the pool down (queued jobs still run when `wait`)."""
        self._closed = True
        for timer in list(self._timers.values()):
            timer.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _submit(self, job: _Job) -> None:
        if self._closed:
            self._finish()
            return
        self._pool.submit(self._run, job)

    def _run(self, job: _Job) -> None:
        job.attempts += 1
        try:
            self._handler(job.events)
            if self._on_success is not None:
                self._on_success(job.events)
        except Exception as error:
            self._failed_attempt(job, error)
        else:
            self._finish()

    def _failed_attempt(self, job: _Job, error: Exception) -> None:
        if job.attempts > len(self._retry_delays):
            log.exception("job %s failed for good after %d attempts", job.job_id, job.attempts)
            self._failed.append(
                FailedJob(job.job_id, len(job.events), job.attempts, repr(error), datetime.now(UTC))
            )
            self._finish()
            return
        delay = self._retry_delays[job.attempts - 1]
        log.warning("job %s failed (%r); retry in %.2fs", job.job_id, error, delay)
        self._schedule(job, delay)

    def _schedule(self, job: _Job, delay: float) -> None:
        # A timer instead of sleeping on a pool thread: waiting retries hold no worker.
        timer = threading.Timer(delay, self._retry, args=(job,))
        timer.daemon = True
        self._timers[job.job_id] = timer
        timer.start()

    def _retry(self, job: _Job) -> None:
        self._timers.pop(job.job_id, None)
        self._submit(job)

    def _finish(self) -> None:
        with self._idle:
            self._unfinished -= 1
            self._idle.notify_all()
