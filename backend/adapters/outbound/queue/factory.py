"""Chooses the job queue for the mode (rq when Redis is configured, else in-process) and the
commit signal that wakes relays in other processes (Redis only)."""

from __future__ import annotations

import redis

from backend.adapters.outbound.metrics.observers import deliver_in_event_context
from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.inline import InlineJobQueue
from backend.adapters.outbound.queue.rq_queue import DEFAULT_QUEUE_NAME, RqJobQueue
from backend.adapters.outbound.redis.commit_signal import RedisCommitSignal
from backend.application.messaging import MessageDispatcher, build_dispatcher
from backend.application.ports.commit_signal import CommitSignal
from backend.application.ports.job_queue import JobQueue
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.push import PushNotifier, subscribe_push_notifier
from backend.application.relay import InFlightRows
from backend.config import Settings

EMBEDDED_JOB_THREADS = 4


def push_dispatcher(notifier: PushNotifier) -> MessageDispatcher:
    """What the outbox's batches go to: every batch of command events is pushed to the users
    concerned, each subscriber in the log context (correlation id, position) of its event."""
    dispatcher = build_dispatcher(deliver=deliver_in_event_context)
    subscribe_push_notifier(dispatcher, notifier)
    return dispatcher


def in_flight_rows_for(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    read_uow_factory: UnitOfWorkFactory | None = None,
) -> InFlightRows | None:
    """The relay's in-flight rows when the queue dies with the process (embedded mode): a row
    is marked dispatched only after its job ran. rq keeps its jobs in Redis: marked at enqueue.
    `read_uow_factory` serves the relay's polls (no write lock on SQLite).
    """
    return InFlightRows(uow_factory, read_uow_factory) if settings.embedded else None


def job_queue_for(
    settings: Settings,
    client: redis.Redis | None,
    dispatcher: MessageDispatcher,
    in_flight: InFlightRows | None,
) -> JobQueue:
    """The queue of this process: its jobs run `dispatcher.dispatch` (in rq: in the worker)."""
    if settings.embedded or client is None:
        on_success = in_flight.acknowledge if in_flight is not None else None
        return InProcessJobQueue(
            dispatcher.dispatch, workers=EMBEDDED_JOB_THREADS, on_success=on_success
        )
    return RqJobQueue(client, settings.redis_prefix + DEFAULT_QUEUE_NAME)


def outbox_queue_for(
    settings: Settings, queue: JobQueue, dispatcher: MessageDispatcher
) -> JobQueue:
    """Where the relay hands the outbox's batches: embedded, the in-process queue (whose jobs
    acknowledge their rows); distributed, the dispatcher at once, in the relay's own thread."""
    if settings.embedded:
        return queue
    return InlineJobQueue(dispatcher.dispatch)


def commit_signal_for(settings: Settings, client: redis.Redis | None) -> CommitSignal | None:
    """Distributed mode: web processes' commits wake the workers' relays through Redis. None
    when embedded, where the relay runs beside the commands (the container's `relay_wakeup`)."""
    if settings.embedded or client is None:
        return None
    return RedisCommitSignal(client, settings.redis_prefix)
