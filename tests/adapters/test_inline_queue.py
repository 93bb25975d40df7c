"""The distributed relay's queue: batches run at once, in order; a failing one stays pending."""

from __future__ import annotations

import pytest

from backend.adapters.outbound.queue.inline import InlineJobQueue
from backend.application.ports.event_store import StoredEvent
from backend.application.relay import OutboxRelay
from tests.application.saga_harness import Bank


def test_the_relay_hands_each_batch_over_before_the_rows_leave_the_outbox() -> None:
    bank = Bank()
    bank.open(100)
    bank.open(50)
    handled: list[list[int]] = []
    relay = OutboxRelay(
        bank.app.uow,
        InlineJobQueue(lambda batch: handled.append([e.position for e in batch])),
        batch_size=3,
    )
    assert relay.relay_once() == 4
    assert handled == [[1, 2, 3], [4]]
    with bank.app.uow() as uow:
        assert uow.outbox.pending() == []


def test_a_batch_that_fails_leaves_its_rows_for_the_next_poll() -> None:
    bank = Bank()
    bank.open(100)

    def down(batch: list[StoredEvent]) -> None:
        raise ConnectionError("pub/sub is down")

    with pytest.raises(ConnectionError):
        OutboxRelay(bank.app.uow, InlineJobQueue(down)).relay_once()
    with bank.app.uow() as uow:
        assert [m.event.type for m in uow.outbox.pending()] == ["AccountOpened", "MoneyDeposited"]
    assert InlineJobQueue(down).failed_jobs() == []
