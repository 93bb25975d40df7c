"""A stand-in for `hexbank worker` run as a subprocess that the crash tests kill -9: rq
SimpleWorker on a prefixed queue, plus the relay and sweeper loops, on an SQL database.

Usage: python -m tests.adapters.worker_process <database-url> <redis-url> <queue-name>
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

import redis
from rq import SimpleWorker

from backend.adapters.inbound.worker.loops import start_messaging
from backend.adapters.outbound.queue.rq_queue import RqJobQueue
from backend.adapters.outbound.system import SystemClock
from backend.application.messaging import MessageDispatcher, build_dispatcher, event_from_message
from backend.application.relay import OutboxRelay
from backend.application.sweeper import TransferSweeper
from backend.application.transfers import TransferProcess
from backend.logging_setup import configure_logging
from tests.adapters.messaging_process import SqlBank, sql_bank

JOB = "tests.adapters.worker_process.dispatch"


@cache
def _wired() -> tuple[SqlBank, TransferProcess, MessageDispatcher]:
    # rq imports this module anew (not as __main__), so the wiring is found by environment.
    bank = sql_bank(os.environ["CRASH_DATABASE_URL"])
    process = TransferProcess(bank.runner.bus)
    return bank, process, build_dispatcher(process)


def dispatch(messages: list[dict[str, Any]]) -> None:
    _wired()[2].dispatch([event_from_message(message) for message in messages])


def main(database_url: str, redis_url: str, queue_name: str) -> None:
    os.environ["CRASH_DATABASE_URL"] = database_url
    configure_logging("text", "WARNING")
    connection = redis.Redis.from_url(redis_url)
    queue = RqJobQueue(connection, queue_name, job_function=JOB, retry_intervals=(0, 0, 0))
    bank, process, dispatcher = _wired()
    sweeper = TransferSweeper(bank.deadlines, process, SystemClock())
    start_messaging(OutboxRelay(bank.uow, queue), sweeper, dispatcher)
    worker = SimpleWorker([queue.queue], connection=connection, name=f"{queue_name}-{os.getpid()}")
    print("ready", flush=True)
    worker.work()


if __name__ == "__main__":
    # Run from the imported module, so that the jobs rq runs share this process's wiring.
    from tests.adapters.worker_process import main as imported_main

    imported_main(*sys.argv[1:4])
