"""Chooses the job queue for the mode (rq when Redis is configured, else in-process) and
the relay that suits it."""

from __future__ import annotations

import redis

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.rq_queue import DEFAULT_QUEUE_NAME, RqJobQueue
from backend.application.messaging import MessageDispatcher
from backend.application.messaging_ports import JobQueue
from backend.application.ports import UnitOfWorkFactory
from backend.application.relay import AcknowledgingRelay, OutboxRelay, Relay
from backend.config import Settings

EMBEDDED_JOB_THREADS = 4


def job_queue_for(
    settings: Settings,
    client: redis.Redis | None,
    dispatcher: MessageDispatcher,
    name: str | None = None,
) -> JobQueue:
    """The queue of this process: its jobs run `dispatcher.dispatch` (in rq: in the worker)."""
    if settings.embedded or client is None:
        return InProcessJobQueue(dispatcher.dispatch, workers=EMBEDDED_JOB_THREADS)
    return RqJobQueue(client, name or settings.redis_prefix + DEFAULT_QUEUE_NAME)


def outbox_relay_for(
    uow_factory: UnitOfWorkFactory,
    queue: JobQueue,
    read_uow_factory: UnitOfWorkFactory | None = None,
) -> Relay:
    """The relay of this process (build one: it keeps the rows in flight).

    With the in-process queue a row is deleted only after its job ran, because the job dies
    with the process; rq keeps its jobs in Redis, so rows are deleted at enqueue.
    `read_uow_factory` serves the in-process relay's polls (no write lock on SQLite).
    """
    if isinstance(queue, InProcessJobQueue):
        relay = AcknowledgingRelay(uow_factory, queue, read_uow_factory)
        queue.after_success.append(relay.acknowledge)
        return relay
    return OutboxRelay(uow_factory, queue)
