"""The relay's queue in distributed mode: each batch runs at once, in the relay's thread.

The outbox carries the commands' events to the push notifier, whose pushes are best effort
(never retried, a failure is logged): they need no job store, no retries with backoff and no
failed-job list, and through rq each batch cost a job (~3.8 ms of CPU of rq's own bookkeeping
and Redis round trips, bench/bench_queue_claims.py). At least once still holds: a batch that
raises leaves its rows in the outbox for the next poll. rq stays the job queue of what needs
retries (`job_queue`).
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import BatchHandler, FailedJob


class InlineJobQueue:
    """JobQueue whose `enqueue_batches` runs each batch's handler before it returns."""

    def __init__(self, handle: BatchHandler) -> None:
        self._handle = handle

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        for batch in batches:
            self._handle(list(batch))

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        """None: a failing batch stays in the outbox instead."""
        return []
