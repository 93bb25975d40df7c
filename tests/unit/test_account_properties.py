"""Properties of Account under any sequence of commands, accepted or refused."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.account import Account
from backend.domain.errors import DomainError
from backend.domain.events import DomainEvent
from backend.domain.money import MAX_AMOUNT, Money

Command = tuple[Any, ...]

amounts = st.integers(-3, 2_000) | st.sampled_from([0, MAX_AMOUNT, MAX_AMOUNT + 1])
currencies = st.sampled_from(["EUR", "EUR", "EUR", "USD"])
transfer_ids = st.sampled_from(["t-1", "t-2", "t-3", "t-4"])

commands: st.SearchStrategy[Command] = st.one_of(
    st.tuples(st.just("deposit"), amounts, currencies),
    st.tuples(st.just("withdraw"), amounts, currencies),
    st.tuples(st.just("place_hold"), transfer_ids, amounts, currencies),
    st.tuples(st.just("release_hold"), transfer_ids),
    st.tuples(st.just("capture_hold"), transfer_ids),
    st.tuples(st.just("credit"), transfer_ids, amounts, currencies),
    st.tuples(st.just("close")),
)


def execute(account: Account, command: Command) -> object:
    """Send one command tuple to the account, building Money without the positive() check."""
    match command:
        case ("deposit" | "withdraw" as name, amount, currency):
            return getattr(account, name)(Money(amount, currency))
        case ("place_hold", tid, amount, currency):
            return account.place_hold(tid, Money(amount, currency))
        case ("release_hold", tid):
            return account.release_hold(tid)
        case ("capture_hold", tid):
            return account.capture_hold(tid, "acc-other")
        case ("credit", tid, amount, currency):
            return account.credit(tid, Money(amount, currency), "acc-other")
        case ("close",):
            account.close()
            return None
    raise AssertionError(f"unknown command {command}")


def assert_invariants(account: Account) -> None:
    assert account.balance >= 0
    assert account.available == account.balance - sum(account.holds.values())
    assert account.available >= 0
    assert all(amount > 0 for amount in account.holds.values())


def run(sequence: list[Command]) -> tuple[Account, list[DomainEvent]]:
    """Open an account, run every command, check the invariants after each; return all events."""
    account = Account.open("acc-1", "owner-1", "Savings", "EUR")
    for command in sequence:
        before_state, before_events = account.snapshot_state(), account.pending_events
        try:
            outcome = execute(account, command)
        except DomainError:
            assert account.pending_events == before_events, "a refused command recorded"
            assert account.snapshot_state() == before_state, "a refused command changed state"
        else:
            recorded = len(account.pending_events) - len(before_events)
            assert recorded == (0 if outcome is False else 1)
        assert_invariants(account)
    return account, list(account.pending_events)


def state_of(account: Account) -> dict[str, Any]:
    return {**account.snapshot_state(), "version": account.version}


@settings(deadline=None)
@given(st.lists(commands, max_size=40))
def test_any_command_sequence_keeps_available_and_balance_non_negative(
    sequence: list[Command],
) -> None:
    run(sequence)


@settings(deadline=None)
@given(st.lists(commands, max_size=40))
def test_replaying_the_recorded_events_rebuilds_the_same_state(sequence: list[Command]) -> None:
    account, events = run(sequence)
    account.version = len(events)

    fresh = Account("acc-1")
    fresh.replay(events)

    assert state_of(fresh) == state_of(account)
    assert fresh.pending_events == ()


@settings(deadline=None)
@given(st.lists(commands, max_size=40), st.data())
def test_replaying_through_a_snapshot_rebuilds_the_same_state(
    sequence: list[Command], data: st.DataObject
) -> None:
    account, events = run(sequence)
    account.version = len(events)
    cut = data.draw(st.integers(0, len(events)), label="snapshot after event")

    head = Account("acc-1")
    head.replay(events[:cut])
    state = json.loads(json.dumps(head.snapshot_state()))
    restored = Account.from_snapshot("acc-1", cut, state)
    restored.replay(events[cut:])

    assert state_of(restored) == state_of(account)


@settings(deadline=None)
@given(st.lists(commands, max_size=40))
def test_a_redelivered_transfer_step_never_records_twice(sequence: list[Command]) -> None:
    account, _ = run(sequence)
    steps = [
        c for c in sequence if c[0] in {"place_hold", "release_hold", "capture_hold", "credit"}
    ]
    for command in steps:
        before = len(account.pending_events)
        try:
            first = execute(account, command)
            again = execute(account, command)
        except DomainError:
            continue
        if first is True:
            assert again is False
            assert len(account.pending_events) == before + 1
