"""Projections as application code: pure folds, gap filling, idempotence, the follower."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata, NewEvent, StoredEvent
from backend.application.projections import default_projections
from backend.application.projections.accounts import summary_after
from backend.application.projections.base import unseen
from backend.application.projections.daily_totals import daily_after
from backend.application.projections.runner import ProjectionRunner
from backend.application.projections.transactions import transaction_for
from backend.application.read_models import (
    AccountChanges,
    AccountSummary,
    DailyTotal,
    TransactionRow,
)
from backend.domain.account import AccountClosed, FundsHeld, HoldCaptured, HoldReleased
from tests.read_side import memory_read_side

WHEN = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SUMMARY = AccountSummary("acc", "alice", "Main", "EUR", 1_000, 0, "open", 2, 1, WHEN, WHEN)


def stored(
    version: int, event_type: str = "X", stream: str = "acc", position: int = 0
) -> StoredEvent:
    return StoredEvent(
        position or version, f"ev-{stream}-{version}", stream, "account", version, "X", 1,
        {}, EventMetadata(), WHEN,
    )  # fmt: skip


def test_holds_lower_available_balance_until_captured_or_released() -> None:
    held = summary_after(SUMMARY, FundsHeld("t-1", 300, "EUR"), stored(3))
    assert (held.balance, held.held, held.version) == (1_000, 300, 3)
    released = summary_after(held, HoldReleased("t-1", 300, "EUR"), stored(4))
    assert (released.balance, released.held) == (1_000, 0)
    captured = summary_after(held, HoldCaptured("t-1", 300, "EUR", "acc-b"), stored(4))
    assert (captured.balance, captured.held) == (700, 0)
    assert summary_after(released, AccountClosed(), stored(5)).status == "closed"


def test_only_money_movements_become_transactions() -> None:
    assert transaction_for(FundsHeld("t-1", 300, "EUR"), stored(3), 1_000) is None
    move = transaction_for(HoldCaptured("t-1", 300, "EUR", "acc-b", "rent"), stored(4), 700)
    assert move == TransactionRow(
        "ev-acc-4", "acc", 4, "transfer_out", 300, "EUR", 700, "rent", "t-1", WHEN
    )


def test_a_day_row_already_past_an_event_ignores_it() -> None:
    move = TransactionRow("ev-1", "acc", 9, "deposit", 50, "EUR", 1_050, None, None, WHEN)
    day = DailyTotal("acc", date(2026, 11, 21), 500, 0, 0, 0, 1_000, 7)
    assert daily_after(day, move, 7) == day
    assert daily_after(day, move, 8) == DailyTotal("acc", day.day, 550, 0, 0, 0, 1_050, 8)


def test_unseen_drops_applied_events_and_reads_a_gap_from_the_stream() -> None:
    side = memory_read_side()
    with side.uow() as uow:
        appended = uow.events.append(
            "acc", "account", 0,
            [NewEvent(f"e{n}", "X", 1, {}, EventMetadata(), WHEN) for n in range(4)],
        )  # fmt: skip
        uow.commit()
    with side.uow() as uow:
        found = unseen([appended[0], appended[3]], {"acc": 1}, uow.events)
    assert [event.version for event in found] == [2, 3, 4]


def test_upcast_v1_deposits_project_in_minor_units() -> None:
    side = memory_read_side()
    with side.uow() as uow:
        data = {"owner_id": "alice", "name": "Old", "currency": "EUR"}
        opened = NewEvent("e1", "AccountOpened", 1, data, EventMetadata(), WHEN)
        deposited = NewEvent("e2", "MoneyDeposited", 1, {"amount": "10.50"}, EventMetadata(), WHEN)
        uow.events.append("acc", "account", 0, [opened, deposited])
        uow.commit()
    side.follower().catch_up()
    summary = side.reader.account("acc")
    assert summary is not None and summary.balance == 1_050
    assert side.reader.transactions_of("acc", None, 5)[0].amount == 1_050


def test_an_older_fold_committed_last_never_overwrites_a_newer_one() -> None:
    side = memory_read_side()
    newer = AccountSummary("acc", "alice", "Main", "EUR", 900, 0, "open", 3, 1, WHEN, WHEN)
    first, second = side.uow(), side.uow()
    second.read_models.save_account_changes(AccountChanges([SUMMARY], [], []))  # v2, last
    first.read_models.save_account_changes(AccountChanges([newer], [], []))
    first.commit()
    second.commit()
    assert side.reader.account("acc") == newer


def test_follower_skips_events_a_projection_already_has() -> None:
    side = memory_read_side()
    bank = side.bank(inline=False)
    bank.open("acc-a", "alice")
    bank.deposit("acc-a", 100)
    with side.uow() as uow:  # as after `rebuild transfers`: that projection is at the head
        uow.read_models.checkpoints.save("transfers", 2)
        uow.commit()
    follower = side.follower()
    assert follower.lag() == {"accounts": 2, "transfers": 0}
    assert follower.catch_up() == 2
    assert follower.lag() == {"accounts": 0, "transfers": 0}


def test_running_follower_catches_up_with_new_commands_and_stops() -> None:
    side = memory_read_side()
    bank = side.bank(inline=False)
    follower = ProjectionRunner(
        side.uow, default_projections(default_codec()), side.reader, page_size=2
    )
    stop = threading.Event()
    loop = threading.Thread(target=follower.run, args=(stop, 0.01))
    loop.start()
    try:
        bank.open("acc-a", "alice")
        bank.deposit("acc-a", 250)
        deadline = time.monotonic() + 5
        while (summary := side.reader.account("acc-a")) is None or summary.balance != 250:
            assert time.monotonic() < deadline, "follower did not catch up"
            time.sleep(0.005)
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
