"""The background side running for real: the transfer engine and relay loops in threads
(embedded mode), and rq workers (distributed), over the memory adapters, with the real job
function. Transfers are the engine's alone; the outbox only carries command events to push."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
import redis
from rq import SimpleWorker

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.rq_queue import RqJobQueue, batch_job_class
from backend.application.messaging import MessageDispatcher, build_dispatcher
from backend.application.ports.event_store import StoredEvent
from backend.application.relay import OutboxRelay, Wakeup
from backend.application.transfer_engine import waking_on_requests
from backend.entrypoints.loops import MessagingLoops, start_messaging
from tests.adapters.embedded_queue import in_process_queue_and_relay
from tests.application.saga_harness import LEASE, Bank

CLIENTS = 4
TRANSFERS_EACH = 50


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def all_ended(bank: Bank, transfer_ids: list[str]) -> bool:
    return all(bank.transfer_state(t).status != "pending" for t in transfer_ids)


def outbox_drained(bank: Bank) -> bool:
    with bank.app.uow() as uow:
        return uow.outbox.pending() == []


@dataclass
class Delivered:
    """A dispatcher whose one batch subscriber (where the push notifier sits) keeps what the
    queue delivered."""

    events: list[StoredEvent]
    dispatcher: MessageDispatcher

    @classmethod
    def new(cls) -> Delivered:
        events: list[StoredEvent] = []
        dispatcher = build_dispatcher()

        def keep(batch: Sequence[StoredEvent]) -> None:
            events.extend(batch)

        dispatcher.batch_subscribers.append(keep)
        return cls(events, dispatcher)

    def types(self) -> list[str]:
        return [event.type for event in self.events]


@dataclass
class Embedded:
    """A bank whose commands wake its own relay and engine, as `hexbank serve` wires them."""

    bank: Bank
    delivered: Delivered
    relay_wakeup: Wakeup
    engine_wakeup: Wakeup

    @classmethod
    def new(cls) -> Embedded:
        bank, relay_wakeup, engine_wakeup = Bank(), Wakeup(), Wakeup()
        wake_engine = waking_on_requests(engine_wakeup.wake)
        bus = bank.runner.bus
        bus.observers = (*bus.observers, relay_wakeup.after_command, wake_engine)
        return cls(bank, Delivered.new(), relay_wakeup, engine_wakeup)

    def start(self) -> tuple[InProcessJobQueue, MessagingLoops]:
        """The background side of a (re)started process: relay, its queue, the engine."""
        queue, relay = in_process_queue_and_relay(
            self.bank.app.uow, self.delivered.dispatcher.dispatch, workers=4,
            retry_delays=(0.01, 0.05),
        )  # fmt: skip
        loops = start_messaging(relay, self.bank.engine, self.relay_wakeup, self.engine_wakeup)
        return queue, loops


@pytest.fixture
def embedded() -> Iterator[tuple[Embedded, InProcessJobQueue]]:
    process = Embedded.new()
    queue, loops = process.start()
    yield process, queue
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
    embedded: tuple[Embedded, InProcessJobQueue],
) -> None:
    process, queue = embedded
    bank = process.bank
    accounts = [bank.open(300) for _ in range(5)]
    sent = send_concurrently(bank, accounts)
    wait_until(lambda: all_ended(bank, sent))
    assert sum(bank.account(a).balance for a in accounts) == 5 * 300
    assert all(bank.account(a).holds == {} for a in accounts)
    assert bank.pending_work() == []
    wait_until(lambda: outbox_drained(bank))
    assert queue.failed_jobs() == []
    # The command events went to push; the engine's own never took the outbox.
    assert process.delivered.types().count("TransferRequested") == len(sent)
    assert "TransferCompleted" not in process.delivered.types()


def test_a_started_process_ends_the_transfers_and_relays_the_rows_a_killed_one_left() -> None:
    process = Embedded.new()
    bank = process.bank
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)  # committed, never run nor relayed: kill -9
    queue, loops = process.start()
    try:
        wait_until(lambda: all_ended(bank, [transfer_id]) and outbox_drained(bank))
    finally:
        loops.stop()
        queue.close()
    assert bank.account(target).balance == 30
    assert "TransferRequested" in process.delivered.types()


def test_the_engine_loop_alone_runs_transfers_and_their_deadline() -> None:
    # No relay: nothing is ever delivered, and transfers go on all the same.
    bank = Bank()
    source, target = bank.open(100), bank.open()
    completed = bank.transfer(source, target, 30)
    engine_only = start_messaging(bank.relay, bank.engine, run_relay=False)
    try:
        wait_until(lambda: all_ended(bank, [completed]))
        engine_only.stop()
        late = bank.transfer(source, target, 30)
        bank.app.clock.advance(seconds=61)  # past its deadline before the engine saw it
        engine_only = start_messaging(bank.relay, bank.engine, run_relay=False)
        wait_until(lambda: all_ended(bank, [late]))
    finally:
        engine_only.stop()
    assert bank.transfer_state(completed).status == "completed"
    assert bank.transfer_state(late).failure_reason == "timed_out"
    assert (bank.account(source).balance, bank.account(target).balance) == (70, 30)
    assert not outbox_drained(bank)  # no relay ran: the rows wait for one, for push alone


def test_a_restarted_engine_takes_a_killed_ones_claims_once_their_lease_ends() -> None:
    process = Embedded.new()
    bank = process.bank
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    claimed = bank.claims.claim(bank.app.clock.now(), LEASE, 10)
    assert [claim.transfer_id for claim in claimed] == [transfer_id]
    # The killed process's engine claimed it, then died before its first round; its queue's
    # jobs never ran either.
    dispatch = process.delivered.dispatcher.dispatch
    stalled, stalled_relay = in_process_queue_and_relay(bank.app.uow, dispatch)
    stalled.close(wait=False)
    stalled_relay.relay_all()

    looks = threading.Semaphore(0)
    run_once = bank.engine.run_once

    def counted() -> int:
        claimed = run_once()
        looks.release()
        return claimed

    bank.engine.run_once = counted  # type: ignore[method-assign]
    queue, loops = process.start()
    try:
        for _ in range(3):  # the clock stands still: the claim holds, whatever the wait
            assert looks.acquire(timeout=10)
        assert bank.transfer_state(transfer_id).status == "pending"
        bank.after_the_lease()
        wait_until(lambda: all_ended(bank, [transfer_id]) and outbox_drained(bank))
    finally:
        loops.stop()
        queue.close()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert bank.pending_work() == []


def test_rq_worker_carries_command_events_through_the_real_job_function(
    redis_url: str, redis_prefix: str
) -> None:
    bank, delivered = Bank(), Delivered.new()
    connection = redis.Redis.from_url(redis_url)
    queue = RqJobQueue(connection, f"{redis_prefix}-push-{uuid.uuid4().hex[:8]}")
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    bank.run_until_quiet()  # the engine, not a job, runs the transfer
    assert bank.transfer_state(transfer_id).status == "completed"
    name, job_class = f"{queue.queue.name}-w", batch_job_class(delivered.dispatcher.dispatch)
    worker = SimpleWorker([queue.queue], connection=connection, name=name, job_class=job_class)
    try:
        assert process_outbox(bank, queue, worker) > 0
        assert process_outbox(bank, queue, worker) == 0  # nothing the jobs did went back in
    finally:
        connection.close()
    assert delivered.types().count("TransferRequested") == 1
    assert "TransferCompleted" not in delivered.types()  # the engine's events skip the outbox


def process_outbox(bank: Bank, queue: RqJobQueue, worker: SimpleWorker) -> int:
    """Relay the outbox to rq and let a burst worker run the jobs; how many events went."""
    sent = OutboxRelay(bank.app.uow, queue).relay_all()
    worker.work(burst=True)
    return sent
