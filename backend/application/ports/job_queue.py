"""The job-queue port: carries batches of committed events to their subscribers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from backend.application.ports.event_store import StoredEvent

#: What a job does with its batch: run every subscriber of every event (raising fails the job).
BatchHandler = Callable[[list[StoredEvent]], None]


@dataclass(frozen=True, slots=True)
class FailedJob:
    """A job that ran out of retries, kept for an operator to look at (and re-run)."""

    job_id: str
    events: int
    attempts: int
    error: str
    failed_at: datetime | None


class JobQueue(Protocol):
    """Carries batches of committed events to the subscribers, at least once each.

    One job per batch, never one per event: a job costs milliseconds and dozens of round trips
    on rq, so coarse jobs keep the queue off the critical path. A job whose handler raises is
    retried with backoff and, when the retries run out, kept as a failed job.
    """

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        """Enqueue one job per batch (in one round trip where the adapter can)."""
        ...

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        """Jobs that exhausted their retries, newest first."""
        ...
