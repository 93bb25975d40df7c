"""Delivery queues: a thread pool of this process (embedded mode) or rq (distributed mode).

Either way a job is one attempt of one delivery, apart from the transfers' jobs: a slow
receiver holds a delivery thread, never a saga step. Retries are not the queue's business (the
deliveries table schedules them); a job fails only when its delivery failed for good, and then
shows among the failed jobs (`hexbank jobs failed`) as well as in the deliveries list.
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import redis
from rq import Queue, get_current_job
from rq.job import Job

from backend.application.ports.job_queue import FailedJob
from backend.application.ports.webhook_transport import Claim

log = logging.getLogger(__name__)

Send = Callable[[Claim], object]
DELIVERY_JOB = "backend.adapters.outbound.webhooks.queues.run_delivery"
DEFAULT_QUEUE_NAME = "webhooks"
_WEEK = 7 * 86400
_NOT_IN_WORKER = "webhook deliveries run in `hexbank worker` (its rq worker has the sender)"


class InProcessDeliveryQueue:
    """Runs each claimed delivery on a small thread pool of this process."""

    def __init__(self, send: Send, workers: int = 8, keep_failed: int = 1000) -> None:
        self._send = send
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hexbank-webhook")
        self._failed: deque[FailedJob] = deque(maxlen=keep_failed)
        self._ids = itertools.count(1)

    def enqueue(self, claims: Sequence[Claim]) -> None:
        for claim in claims:
            self._pool.submit(self._run, f"delivery-{next(self._ids)}", claim)

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        return list(reversed(self._failed))[:limit]

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _run(self, job_id: str, claim: Claim) -> None:
        try:
            self._send(claim)
        except Exception as error:
            log.warning("webhook delivery %s failed: %s", claim.delivery_id, error)
            self._failed.append(FailedJob(job_id, 1, 1, repr(error), datetime.now(UTC)))


class RqDeliveryQueue:
    """Delivery jobs on their own rq queue, drained by every `hexbank worker`."""

    def __init__(self, connection: redis.Redis, name: str, job_timeout: int = 60) -> None:
        self.queue = Queue(name, connection=connection)
        self._connection = connection
        self._job_timeout = job_timeout

    def enqueue(self, claims: Sequence[Claim]) -> None:
        if not claims:
            return
        jobs = [
            Queue.prepare_data(
                DELIVERY_JOB,
                args=(claim.delivery_id, claim.lease, list(claim.then)),
                timeout=self._job_timeout,
                failure_ttl=_WEEK,
                description=f"webhook delivery {claim.delivery_id}",
                job_id=re.sub(r"[^A-Za-z0-9_-]", "_", f"{self.queue.name}-{uuid.uuid4().hex}"),
            )
            for claim in claims
        ]
        with self._connection.pipeline() as pipe:
            self.queue.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()

    def failed_jobs(self, limit: int = 100) -> list[FailedJob]:
        registry = self.queue.failed_job_registry
        ids = list(reversed(registry.get_job_ids()))[:limit]
        return [_failed(job) for job in Job.fetch_many(ids, connection=self._connection) if job]


def _failed(job: Job) -> FailedJob:
    result = job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result is not None else []
    ended = job.ended_at.replace(tzinfo=UTC) if job.ended_at else None
    return FailedJob(job.id, 1, 1, lines[-1] if lines else "", ended)


class DeliveryJob(Job):
    """An rq job whose delivery goes to the sender of the worker running it."""

    def send(self, claim: Claim) -> None:
        raise RuntimeError(_NOT_IN_WORKER)


def delivery_job_class(send: Send, base: type[Job] = Job) -> type[DeliveryJob]:
    """The job class of a worker whose delivery jobs call `send`; `base` is the worker's other
    job class (its transfer batches), so one worker runs both kinds."""

    class WorkerDeliveryJob(DeliveryJob, base):  # type: ignore[valid-type,misc]
        def send(self, claim: Claim) -> None:
            send(claim)

    return WorkerDeliveryJob


def run_delivery(delivery_id: str, lease: str, then: list[str] | None = None) -> str:
    """rq's job function: the attempts of one claim; raising leaves the job failed."""
    job = get_current_job()
    if not isinstance(job, DeliveryJob):
        raise RuntimeError(_NOT_IN_WORKER)
    job.send(Claim(delivery_id, lease, tuple(then or ())))
    return delivery_id
