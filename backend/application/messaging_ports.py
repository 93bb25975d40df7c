"""Ports of the messaging side: the job queue that carries committed events to their
subscribers, and the index of transfers that the sweeper drives past their deadline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from backend.application.ports import StoredEvent, UnitOfWork

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


class TransferDeadlines(Protocol):
    """Which transfers are still pending after their deadline (what the sweeper drives).

    `track` runs inside the writing transaction (as an inline projector), so the index commits
    together with the transfer events it reflects and survives any crash of the process.
    """

    def track(self, uow: UnitOfWork, events: Sequence[StoredEvent]) -> None:
        """Record new transfers' deadlines and forget those that ended."""
        ...

    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of pending transfers whose deadline is before `now`, oldest deadline first."""
        ...


#: Stops a wake-up registered with `CommitSignal.listen`.
StopWaking = Callable[[], None]


class CommitSignal(Protocol):
    """Tells the relays, in whatever process they run, that outbox rows were committed.

    A hint, not a message: a relay woken for nothing finds nothing, and one that misses a
    signal still polls now and then. It spares every commit waiting for the next poll, and
    every idle relay polling often enough to keep that wait short.
    """

    def notify(self) -> None:
        """Outbox rows were committed (call after the commit; cheap, never raises)."""
        ...

    def listen(self, wake: Callable[[], None]) -> StopWaking:
        """Call `wake` after notifications from any process (several may make one call)."""
        ...
