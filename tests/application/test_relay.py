"""The outbox relay and the message dispatcher: order, batching, at-least-once, no silent drops."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.messaging import (
    MessageDispatcher,
    event_from_message,
    event_to_message,
)
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.outbox import OutboxMessage
from backend.application.relay import InFlightRows, OutboxRelay
from tests.application.saga_harness import Bank, CollectingJobQueue


class CrashBeforeMark(Exception):
    """The relay process died after enqueueing, before marking the rows dispatched."""


def relay_that_crashes_before_marking(bank: Bank) -> OutboxRelay:
    def uow() -> InMemoryUnitOfWork:
        unit = bank.app.uow()

        def crash(outbox_ids: Sequence[int]) -> None:
            raise CrashBeforeMark

        unit.outbox.mark_dispatched = crash  # type: ignore[method-assign]
        return unit

    return OutboxRelay(uow, bank.queue, batch_size=100)


def positions(batches: list[list[StoredEvent]]) -> list[int]:
    return [event.position for batch in batches for event in batch]


def test_relay_hands_pending_events_over_in_order_one_job_per_batch() -> None:
    bank = Bank(relay_batch_size=2)
    bank.open(100)
    bank.open(50)  # 2 accounts x (opened, deposited) = 4 events
    assert bank.relay.relay_once() == 4
    assert [len(batch) for batch in bank.queue.batches] == [2, 2]
    assert positions(bank.queue.batches) == [1, 2, 3, 4]


def test_relayed_events_are_not_sent_again() -> None:
    bank = Bank()
    bank.open(100)
    bank.relay.relay_once()
    assert bank.relay.relay_once() == 0
    with bank.app.uow() as uow:
        assert uow.outbox.pending() == []


def test_relay_once_sends_at_most_its_batches_and_relay_all_the_rest() -> None:
    bank = Bank()
    bank.relay = OutboxRelay(bank.app.uow, bank.queue, batch_size=1, max_batches=3)
    for _ in range(4):
        bank.open(100)  # 8 events
    assert bank.relay.relay_once() == 3
    assert bank.relay.relay_all() == 5
    assert positions(bank.queue.batches) == list(range(1, 9))


def test_crash_between_enqueue_and_mark_sends_the_same_rows_again() -> None:
    bank = Bank()
    source, target = bank.open(100), bank.open()
    transfer_id = bank.transfer(source, target, 30)
    with pytest.raises(CrashBeforeMark):
        relay_that_crashes_before_marking(bank).relay_once()
    first_copy = bank.queue.batches.pop()
    bank.relay.relay_all()  # after the restart: the same rows again
    assert positions(bank.queue.batches) == [event.position for event in first_copy]
    bank.run_until_quiet()
    assert bank.transfer_state(transfer_id).status == "completed"
    assert (bank.account(source).balance, bank.account(target).balance) == (70, 30)


def test_failing_enqueue_leaves_the_events_pending() -> None:
    class DownQueue(CollectingJobQueue):
        def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
            raise ConnectionError("redis is down")

    bank = Bank()
    bank.open(100)
    with pytest.raises(ConnectionError):
        OutboxRelay(bank.app.uow, DownQueue()).relay_once()
    assert bank.relay.relay_once() == 2


def test_dispatcher_runs_every_subscriber_of_each_event_in_order() -> None:
    bank = Bank()
    bank.open(100)
    seen: list[tuple[str, int]] = []
    dispatcher = MessageDispatcher()
    dispatcher.subscribe("AccountOpened", lambda e: seen.append(("a", e.position)))
    dispatcher.subscribe_all(
        ["AccountOpened", "MoneyDeposited"], lambda e: seen.append(("b", e.position))
    )
    bank.relay_pending()
    dispatcher.dispatch(bank.queue.batches[0])
    assert seen == [("a", 1), ("b", 1), ("b", 2)]


def test_a_failing_subscriber_fails_the_batch_so_the_queue_retries_it() -> None:
    bank = Bank()
    bank.open(100)
    dispatcher = MessageDispatcher()

    def broken(event: StoredEvent) -> None:
        raise RuntimeError("projection down")

    dispatcher.subscribe("MoneyDeposited", broken)
    bank.relay_pending()
    with pytest.raises(RuntimeError):
        dispatcher.dispatch(bank.queue.batches[0])


def test_queued_event_survives_the_wire_format_unchanged_but_for_its_hash() -> None:
    bank = Bank()
    source, target = bank.open(100), bank.open()
    bank.transfer(source, target, 30)
    bank.relay_pending()
    for event in bank.queue.batches[0]:
        assert event.hash  # stored with one; handlers never need it, so it stays home
        assert event_from_message(event_to_message(event)) == dataclasses.replace(event, hash="")


def acknowledging_relay(bank: Bank) -> OutboxRelay:
    return OutboxRelay(bank.app.uow, bank.queue, in_flight=InFlightRows(bank.app.uow))


def pending_positions(bank: Bank) -> list[int]:
    with bank.app.uow() as uow:
        return [message.event.position for message in uow.outbox.pending()]


def test_acknowledging_relay_keeps_rows_until_their_job_ran() -> None:
    bank = Bank()
    bank.open(100)
    relay = acknowledging_relay(bank)
    assert relay.relay_once() == 2
    assert relay.relay_once() == 0  # in flight: not sent twice by the same relay
    assert pending_positions(bank) == [1, 2]
    assert relay.in_flight is not None
    relay.in_flight.acknowledge(bank.queue.batches[0])
    assert pending_positions(bank) == []


def test_restarted_relay_resends_what_was_never_acknowledged() -> None:
    bank = Bank()
    bank.open(100)
    acknowledging_relay(bank).relay_once()  # enqueued in memory, then the process died
    bank.queue.batches.clear()
    assert acknowledging_relay(bank).relay_once() == 2
    assert positions(bank.queue.batches) == [1, 2]


def test_acknowledging_relay_sends_again_what_it_failed_to_enqueue() -> None:
    class FlakyQueue(CollectingJobQueue):
        down = True

        def enqueue_batches(self, batches: Sequence[Sequence[StoredEvent]]) -> None:
            if self.down:
                raise ConnectionError("queue is down")
            super().enqueue_batches(batches)

    bank = Bank()
    bank.open(100)
    queue = FlakyQueue()
    relay = OutboxRelay(bank.app.uow, queue, in_flight=InFlightRows(bank.app.uow))
    with pytest.raises(ConnectionError):
        relay.relay_once()
    queue.down = False
    assert relay.relay_once() == 2


class PollDuringAcknowledgement:
    """Units of work whose outbox delete first lets the relay poll: a poll that comes while
    an acknowledgement is under way, before its delete is done."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank
        self.in_flight = InFlightRows(self, rescan_every=0)  # every poll reads from the start
        self.relay = OutboxRelay(bank.app.uow, bank.queue, in_flight=self.in_flight)
        self.polls: list[int] = []

    def __call__(self) -> InMemoryUnitOfWork:
        unit = self.bank.app.uow()
        delete = unit.outbox.mark_dispatched

        def poll_then_delete(outbox_ids: Sequence[int]) -> None:
            self.polls.append(self.relay.relay_once())
            delete(outbox_ids)

        unit.outbox.mark_dispatched = poll_then_delete  # type: ignore[method-assign]
        return unit


def test_a_poll_during_an_acknowledgement_does_not_send_its_rows_again() -> None:
    bank = Bank()
    bank.open(100)
    racing = PollDuringAcknowledgement(bank)
    assert racing.relay.relay_once() == 2
    racing.in_flight.acknowledge(bank.queue.batches[0])
    assert racing.polls == [0]  # the rows were still in flight: nothing sent
    assert positions(bank.queue.batches) == [1, 2]
    assert pending_positions(bank) == []


def test_in_flight_polls_read_past_the_cursor_and_rescan_from_the_start() -> None:
    bank = Bank()
    bank.open(100)
    clock, reads = [0.0], list[int]()

    def reading_uow() -> InMemoryUnitOfWork:
        unit = bank.app.uow()
        pending = unit.outbox.pending

        def recorded(limit: int = 500, after: int = 0) -> list[OutboxMessage]:
            reads.append(after)
            return pending(limit, after)

        unit.outbox.pending = recorded  # type: ignore[method-assign]
        return unit

    in_flight = InFlightRows(bank.app.uow, reading_uow, 5, lambda: clock[0])
    relay = OutboxRelay(bank.app.uow, bank.queue, in_flight=in_flight)
    relay.relay_once()  # the first poll is a rescan (from 0)
    bank.open(50)
    assert relay.relay_once() == 2
    clock[0] = 6.0
    assert relay.relay_once() == 0  # a rescan finds only rows in flight, then the cursor read
    assert reads == [0, 2, 0, 4]
