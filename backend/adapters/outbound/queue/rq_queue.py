"""The distributed job queue: rq on Redis, drained by `hexbank worker` processes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.queue import EnqueueData

from backend.application.messaging import event_to_message
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import FailedJob

#: The job function every batch runs in a worker (builds the app from settings, dispatches).
DISPATCH_JOB = "backend.adapters.inbound.worker.jobs.dispatch_events"
DEFAULT_QUEUE_NAME = "events"
DEFAULT_RETRY_INTERVALS: tuple[int, ...] = (1, 5, 30, 120)
_WEEK = 7 * 86400


class RqJobQueue:
    """JobQueue on rq: one job per batch, enqueued in one pipeline; rq Retry with backoff;
    failed jobs stay in rq's FailedJobRegistry for a week."""

    def __init__(
        self,
        connection: redis.Redis,
        name: str = DEFAULT_QUEUE_NAME,
        job_function: str = DISPATCH_JOB,
        retry_intervals: Sequence[int] = DEFAULT_RETRY_INTERVALS,
        job_timeout: int = 300,
    ) -> None:
        self.queue = Queue(name, connection=connection)
        self._connection = connection
        self._job_function = job_function
        self._retry_intervals = list(retry_intervals)
        self._job_timeout = job_timeout

    def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
        jobs = [self._job_data(batch) for batch in batches if batch]
        if not jobs:
            return
        # One round trip for the lot: rq costs dozens of commands per job otherwise.
        with self._connection.pipeline() as pipe:
            self.queue.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        registry = self.queue.failed_job_registry
        ids = list(reversed(registry.get_job_ids()))[:limit]
        jobs = Job.fetch_many(ids, connection=self._connection)
        return [_failed(job) for job in jobs if job is not None]

    def _job_data(self, batch: Sequence[StoredEvent]) -> EnqueueData:
        intervals = self._retry_intervals
        retry = Retry(max=len(intervals), interval=intervals) if intervals else None
        return Queue.prepare_data(
            self._job_function,
            args=([event_to_message(event) for event in batch],),
            timeout=self._job_timeout,
            failure_ttl=_WEEK,
            retry=retry,
            description=f"dispatch {len(batch)} events from position {batch[0].position}",
            job_id=self._job_id(),
            meta={"max_retries": len(self._retry_intervals)},
        )

    def _job_id(self) -> str:
        # Named after the queue, so every key of a job carries the queue's (test) prefix too.
        return re.sub(r"[^A-Za-z0-9_-]", "_", f"{self.queue.name}-{uuid.uuid4().hex}")


def _failed(job: Job) -> FailedJob:
    result = job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result is not None else []
    ended = job.ended_at.replace(tzinfo=UTC) if job.ended_at else None
    events = len(job.args[0]) if job.args else 0
    # The last line of the traceback names the exception: enough for a listing.
    error = lines[-1] if lines else ""
    # rq counts retries down (`retries_left`); the budget it started from is in the meta.
    attempts = 1 + int(job.meta.get("max_retries", 0)) - (job.retries_left or 0)
    return FailedJob(job.id, events, attempts, error, ended)
