"""The messaging side running for real: threads (embedded mode) and rq workers (distributed),
over the memory adapters, with the real job function."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from rq import SimpleWorker

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.rq_queue import RqJobQueue, batch_job_class
from backend.application.messaging import build_dispatcher
from backend.application.relay import OutboxRelay
from backend.application.sweeper import TransferSweeper
from backend.application.transfers import TransferProcess
from backend.entrypoints.loops import MessagingLoops, start_messaging
from tests.adapters.embedded_queue import in_process_queue_and_relay
from tests.application.saga_harness import Bank

CLIENTS = 4
TRANSFERS_EACH = 50


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def all_ended(bank: Bank, transfer_ids: list[str]) -> bool:
    return all(bank.transfer_state(t).status != "pending" for t in transfer_ids)


@pytest.fixture
def embedded() -> Iterator[tuple[Bank, InProcessJobQueue, MessagingLoops]]:
    bank = Bank()
    queue, relay = in_process_queue_and_relay(
        bank.app.uow, bank.dispatcher.dispatch, workers=4, retry_delays=(0.01, 0.05)
    )
    loops = start_messaging(relay, bank.sweeper, bank.relay_wakeup)
    yield bank, queue, loops
    loops.stop()
    queue.close()


def send_concurrently(bank: Bank, accounts: list[str]) -> list[str]:
    sent: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for n in range(TRANSFERS_EACH):
            source = accounts[(index + n) % len(accounts)]
            target = accounts[(index + 2 * n + 1) % len(accounts)]
            if source != target:
                transfer_id = bank.transfer(source, target, 1 + (n * 7) % 40)
                with lock:
                    sent.append(transfer_id)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def test_embedded_threads_end_every_transfer_and_conserve_money(
    embedded: tuple[Bank, InProcessJobQueue, MessagingLoops],
) -> None:
    bank, queue, _ = embedded
    accounts = [bank.open(300) for _ in range(5)]
    sent = send_concurrently(bank, accounts)
    wait_until(lambda: all_ended(bank, sent))
    assert sum(bank.account(a).balance for a in accounts) == 5 * 300
    assert all(bank.account(a).holds == {} for a in accounts)
    assert queue.failed_jobs() == []


def test_embedded_start_relays_the_backlog_a_killed_process_left() -> None:
    bank = Bank()
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)  # committed, never relayed: then kill -9
    queue = InProcessJobQueue(bank.dispatcher.dispatch, workers=2)
    loops = start_messaging(OutboxRelay(bank.app.uow, queue), bank.sweeper)
    try:
        wait_until(lambda: all_ended(bank, [transfer_id]))
    finally:
        loops.stop()
        queue.close()
    assert bank.account(target).balance == 30


def test_rq_worker_runs_the_saga_through_the_real_job_function(
    redis_url: str, redis_prefix: str
) -> None:
    bank = Bank()
    dispatcher = build_dispatcher(TransferProcess(bank.runner))
    connection = redis.Redis.from_url(redis_url)
    queue = RqJobQueue(connection, f"{redis_prefix}-saga-{uuid.uuid4().hex[:8]}")
    relay = OutboxRelay(bank.app.uow, queue)
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    name, job_class = f"{queue.queue.name}-w", batch_job_class(dispatcher.dispatch)
    worker = SimpleWorker([queue.queue], connection=connection, name=name, job_class=job_class)
    while relay.relay_all():  # the request's job drives the saga; then its events' job
        worker.work(burst=True)
    assert bank.transfer_state(transfer_id).status == "completed"
    assert (bank.account(source).balance, bank.account(target).balance) == (70, 30)
    connection.close()


def test_sweeper_loop_ends_transfers_whose_jobs_were_lost(
    embedded: tuple[Bank, InProcessJobQueue, MessagingLoops],
) -> None:
    bank, _, loops = embedded
    loops.stop()  # no relay: the messages are never delivered
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.app.clock.advance(seconds=61)
    sweeper = TransferSweeper(bank.deadlines, bank.process, bank.app.clock)
    sweeper_only = start_messaging(bank.relay, sweeper, run_relay=False)
    try:
        wait_until(lambda: all_ended(bank, [transfer_id]))
    finally:
        sweeper_only.stop()
    assert bank.transfer_state(transfer_id).failure_reason == "timed_out"


def test_embedded_restart_resumes_what_the_killed_process_had_not_processed() -> None:
    bank = Bank()
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    stalled, stalled_relay = in_process_queue_and_relay(bank.app.uow, bank.dispatcher.dispatch)
    stalled.close(wait=False)  # a process whose jobs never ran: killed right after enqueue
    stalled_relay.relay_all()

    queue, relay = in_process_queue_and_relay(bank.app.uow, bank.dispatcher.dispatch)
    loops = start_messaging(relay, bank.sweeper, bank.relay_wakeup)
    try:  # well within the deadline: no sweeping needed
        wait_until(lambda: all_ended(bank, [transfer_id]))
    finally:
        loops.stop()
        queue.close()
    assert bank.transfer_state(transfer_id).status == "completed"
    with bank.app.uow() as uow:
        assert uow.outbox.pending() == []
