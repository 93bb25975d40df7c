"""`hexbank worker` (rq worker + relay + sweeper) and `hexbank jobs failed`."""

from __future__ import annotations

import os
import socket

import click
from rq import SimpleWorker
from sqlalchemy import Engine

from backend.adapters.inbound.cli.settings import load_settings
from backend.adapters.inbound.worker.jobs import worker_container
from backend.adapters.inbound.worker.loops import start_messaging
from backend.adapters.outbound.queue.rq_queue import RqJobQueue
from backend.logging_setup import get_logger

log = get_logger(__name__)


def _rq_queue() -> RqJobQueue:
    settings = load_settings()  # configures logging on the root logger first (STACK.md 14)
    if settings.embedded:
        raise click.ClickException(
            "HEXBANK_REDIS_URL is not set: in embedded mode `hexbank serve` runs the jobs"
        )
    queue = worker_container().job_queue()
    if not isinstance(queue, RqJobQueue):
        raise click.ClickException("the container's job queue is not the rq queue")
    return queue


def _forget_pooled_connections_in_forks(engine: Engine) -> None:
    # rq forks its scheduler (which runs delayed retries) from this process: the child must
    # neither use nor close the parent's pooled connections (SQLAlchemy's fork recipe).
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


@click.command()
@click.option("--burst", is_flag=True, help="Stop once the queue is empty (tests, one-offs).")
@click.option("--relay/--no-relay", default=True, show_default=True, help="Run the outbox relay.")
@click.option("--sweep/--no-sweep", default=True, show_default=True, help="Run the sweeper.")
def worker(burst: bool, relay: bool, sweep: bool) -> None:
    """Process queued jobs with rq (non-forking), plus the outbox relay and transfer sweeper."""
    queue = _rq_queue()
    container = worker_container()
    _forget_pooled_connections_in_forks(container.engine())
    loops = start_messaging(
        container.outbox_relay(),
        container.transfer_sweeper(),
        container.message_dispatcher(),
        run_relay=relay,
        run_sweeper=sweep,
    )
    # Non-forking: the jobs are our own code and share the process's engine pool (STACK.md 13).
    name = f"hexbank-{socket.gethostname()}-{os.getpid()}"
    rq_worker = SimpleWorker([queue.queue], connection=queue.queue.connection, name=name)
    log.info("worker started", queue=queue.queue.name, relay=relay, sweep=sweep)
    try:
        rq_worker.work(burst=burst, with_scheduler=not burst)
    finally:
        loops.stop()


@click.group()
def jobs() -> None:
    """Inspect the job queue."""


@jobs.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def failed(limit: int) -> None:
    """List jobs that exhausted their retries, newest first."""
    queue = _rq_queue()
    listed = queue.failed_jobs(limit)
    if not listed:
        click.echo("no failed jobs")
    for job in listed:
        when = job.failed_at.isoformat() if job.failed_at else "-"
        click.echo(
            f"{job.job_id}\t{when}\t{job.events} events\t{job.attempts} attempts\t{job.error}"
        )
