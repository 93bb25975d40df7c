"""`hexbank worker` (transfer engine + rq worker + relay) and `hexbank jobs failed`."""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime

import click
import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested
from sqlalchemy import Engine

from backend.adapters.outbound.metrics.prometheus import serve_metrics
from backend.adapters.outbound.queue.rq_queue import BatchJob, RqJobQueue, batch_job_class
from backend.application.ports.transfer_work import STUCK_AFTER_ATTEMPTS
from backend.config import Settings
from backend.container import Container
from backend.entrypoints.cli.runtime import Runtime, pass_runtime
from backend.entrypoints.event_loops import start_event_loops
from backend.entrypoints.loops import start_messaging
from backend.logging_setup import get_logger

log = get_logger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
#: Seconds between rq workers when the previous one gave up on Redis.
REDIS_RETRY_SECONDS = 1.0


def _rq_queue(runtime: Runtime) -> RqJobQueue:
    settings = runtime.settings()  # configures logging on the root logger first (STACK.md 14)
    if settings.embedded:
        raise click.ClickException(
            "HEXBANK_REDIS_URL is not set: in embedded mode `hexbank serve` runs the jobs"
        )
    queue = runtime.container().job_queue()
    if not isinstance(queue, RqJobQueue):
        raise click.ClickException("the container's job queue is not the rq queue")
    return queue


def _forget_pooled_connections_in_forks(engine: Engine) -> None:
    # rq forks its scheduler (which runs delayed retries) from this process: the child must
    # neither use nor close the parent's pooled connections (SQLAlchemy's fork recipe).
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    os.register_at_fork(after_in_child=functools.partial(_die_with_worker, os.getpid()))


def _die_with_worker(worker_pid: int) -> None:
    # A fork outliving a kill -9 of the worker keeps copies of the worker's database sockets
    # open: PostgreSQL then never rolls back the transaction the worker was in, whose append
    # lock holds up every tailing reader and rebuild (and the writers queued behind them). So the
    # fork (rq's scheduler) dies with the worker.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != worker_pid:  # the worker died before prctl took effect
        os._exit(1)


def _serve_metrics(settings: Settings, container: Container) -> None:
    # Transfer steps and outcomes are counted here, not in the web: expose them.
    if settings.metrics_port is not None:
        metrics, extra = container.metrics(), container.metrics_collectors()
        serve_metrics(settings.host, settings.metrics_port, metrics, extra)
        log.info("metrics served", port=settings.metrics_port)


@click.command()
@click.option("--burst", is_flag=True, help="Stop once the queue is empty (tests, one-offs).")
@click.option("--relay/--no-relay", default=True, show_default=True, help="Run the outbox relay.")
@click.option(
    "--engine/--no-engine", default=True, show_default=True, help="Run the transfer engine."
)
@pass_runtime
def worker(runtime: Runtime, burst: bool, relay: bool, engine: bool) -> None:
    """Run transfers (the transfer engine), queued jobs with rq (non-forking), and the relay."""
    queue = _rq_queue(runtime)
    container = runtime.container()
    _forget_pooled_connections_in_forks(container.engine())
    loops = start_messaging(
        container.outbox_relay(),
        container.transfer_engine(),
        container.relay_wakeup(),
        container.engine_wakeup(),
        run_relay=relay,
        run_engine=engine,
        projections=container.projection_runner(),
        signal=container.commit_signal(),
    )
    # The public feed and webhook deliveries, on threads of their own (not in burst mode).
    events = None if burst else start_event_loops(container)
    _serve_metrics(runtime.settings(), container)
    log.info("worker started", queue=queue.queue.name, relay=relay, engine=engine)
    try:
        _work(queue, burst, batch_job_class(container.message_dispatcher().dispatch))
        if burst and engine:  # and the transfers ready now, to their end
            while container.transfer_engine().run_once():
                pass
    finally:
        loops.stop()
        if events is not None:
            events.stop()


def _work(queue: RqJobQueue, burst: bool, job_class: type[BatchJob]) -> None:
    """Run rq until a stop is asked for (SIGTERM, or an empty queue in burst mode).

    rq gives up (returns, or raises) when Redis fails in the middle of a job or is down when
    it starts; a Redis restart must not end the worker, so a fresh rq worker takes over.
    """
    for round_ in itertools.count():
        # A new name each round: a worker that could not register its death is still listed.
        name = f"hexbank-{socket.gethostname()}-{os.getpid()}" + (f"-{round_}" if round_ else "")
        if _run_rq_worker(queue, name, burst, job_class) or burst:
            return
        try:
            time.sleep(REDIS_RETRY_SECONDS)  # back off while Redis is down; nothing to poll
        except StopRequested:  # SIGTERM between rounds, raised by rq's still-installed handler
            return


def _run_rq_worker(queue: RqJobQueue, name: str, burst: bool, job_class: type[BatchJob]) -> bool:
    """One rq worker's life; True when it ended because a stop was asked for."""
    rq_worker: SimpleWorker | None = None
    try:
        # Non-forking: the jobs are our own code and share the engine pool (STACK.md 13); each
        # job hands its batch to this process's dispatcher, which the job class carries.
        connection = queue.queue.connection
        rq_worker = SimpleWorker(
            [queue.queue], connection=connection, name=name, job_class=job_class
        )
        rq_worker.work(burst=burst, with_scheduler=not burst)
    except redis.RedisError:
        log.exception("the rq worker lost Redis; starting another")
    # rq's SIGTERM/SIGINT handler notes when it was asked to stop.
    return rq_worker is not None and rq_worker._shutdown_requested_date is not None


@click.group()
def jobs() -> None:
    """Inspect the job queue."""


@jobs.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@pass_runtime
def failed(runtime: Runtime, limit: int) -> None:
    """List jobs that exhausted their retries, newest first, then the transfers whose rounds
    keep failing (claimed STUCK_AFTER_ATTEMPTS times or more)."""
    queue = _rq_queue(runtime)
    # Transfer batches and webhook deliveries that failed for good, newest first.
    listed = queue.failed_jobs(limit) + runtime.container().events.delivery_queue().failed_jobs(
        limit
    )
    listed.sort(key=lambda job: job.failed_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    listed = listed[:limit]
    stuck = runtime.container().transfer_engine().claims.stuck(STUCK_AFTER_ATTEMPTS, limit)
    if not listed and not stuck:
        click.echo("no failed jobs")
    for job in listed:
        when = job.failed_at.isoformat() if job.failed_at else "-"
        click.echo(
            f"{job.job_id}\t{when}\t{job.events} events\t{job.attempts} attempts\t{job.error}"
        )
    for transfer in stuck:  # the engine's dead letters: their rounds keep failing
        click.echo(
            f"transfer {transfer.transfer_id}\tnext {transfer.ready_at.isoformat()}\t"
            f"{transfer.attempts} attempts\tits rounds keep failing: see the logs for its id"
        )
