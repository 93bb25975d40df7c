"""A stand-in for `hexbank worker` run as a subprocess that the crash tests kill -9: rq
SimpleWorker on a prefixed queue, plus the transfer engine and relay loops, on an SQL database.

Usage: python -m tests.adapters.worker_process <database-url> <redis-url> <queue-name>
"""

from __future__ import annotations

import os
import sys

import redis
from rq import SimpleWorker

from backend.adapters.outbound.queue.rq_queue import RqJobQueue, batch_job_class
from backend.application.messaging import build_dispatcher
from backend.application.relay import OutboxRelay
from backend.entrypoints.loops import start_messaging
from backend.logging_setup import configure_logging
from tests.adapters.messaging_process import sql_bank


def main(database_url: str, redis_url: str, queue_name: str) -> None:
    configure_logging("text", "WARNING")
    connection = redis.Redis.from_url(redis_url)
    queue = RqJobQueue(connection, queue_name, retry_intervals=(0, 0, 0))
    bank = sql_bank(database_url)
    dispatcher = build_dispatcher()  # the jobs carry command events to push: none here
    start_messaging(OutboxRelay(bank.uow, queue), bank.transfer_engine())
    name, job_class = f"{queue_name}-{os.getpid()}", batch_job_class(dispatcher.dispatch)
    worker = SimpleWorker([queue.queue], connection=connection, name=name, job_class=job_class)
    print("ready", flush=True)
    worker.work()


if __name__ == "__main__":
    main(*sys.argv[1:4])
