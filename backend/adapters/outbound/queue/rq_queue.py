"""The distributed job queue: rq on Redis, drained by `hexbank worker` processes.

A job names `run_batch` as its function; the worker that runs it hands the batch to its own
handler (the message dispatcher it was built with), carried by the worker's job class. So a
worker needs no process-wide state to find its dispatcher.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import redis
from rq import Queue, Retry, get_current_job
from rq.job import Job
from rq.queue import EnqueueData

from backend.application.messaging import event_from_message, event_to_message
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import BatchHandler, FailedJob

#: The job function every batch names: it runs in a worker built with `batch_job_class`.
DISPATCH_JOB = "backend.adapters.outbound.queue.rq_queue.run_batch"
DEFAULT_QUEUE_NAME = "events"
_NOT_IN_WORKER = "hexbank jobs run in `hexbank worker` (its rq worker has the handler)"
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


class BatchJob(Job):
    """An rq job whose batch goes to the handler of the worker running it."""

    def deliver(self, events: list[StoredEvent]) -> None:
        """Hand the batch to the worker's handler (a worker built with `batch_job_class`)."""
        raise RuntimeError(_NOT_IN_WORKER)


def batch_job_class(handler: BatchHandler) -> type[BatchJob]:
    """The job class of a worker whose jobs hand their batches to `handler`."""

    class WorkerBatchJob(BatchJob):
        def deliver(self, events: list[StoredEvent]) -> None:
            handler(events)

    return WorkerBatchJob


def run_batch(messages: list[dict[str, Any]]) -> int:
    """rq's job function: deliver one batch of committed events; raising makes rq retry."""
    job = get_current_job()
    if not isinstance(job, BatchJob):
        raise RuntimeError(_NOT_IN_WORKER)
    job.deliver([event_from_message(message) for message in messages])
    return len(messages)
