"""The Account aggregate: its commands, invariants, idempotent transfer steps and events."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from backend.domain import errors
from backend.domain.account import (
    MAX_NAME_LENGTH,
    Account,
    AccountClosed,
    AccountOpened,
    FundsHeld,
    HoldCaptured,
    HoldReleased,
    MoneyCredited,
    MoneyDeposited,
    MoneyWithdrawn,
)
from backend.domain.money import Money


def eur(amount: int) -> Money:
    return Money(amount, "EUR")


def opened(balance: int = 0) -> Account:
    """An account already stored (events collected), with `balance` deposited."""
    account = Account.open("acc-1", "owner-1", "Savings", "EUR")
    if balance:
        account.deposit(eur(balance))
    stored = account.collect_events()
    fresh = Account("acc-1")
    fresh.replay(stored)
    return fresh


# -- open -----------------------------------------------------------------------------------


def test_open_records_account_opened_with_owner_name_and_currency() -> None:
    account = Account.open("acc-1", "owner-1", "  Savings  ", "EUR")

    assert account.pending_events == (AccountOpened("owner-1", "Savings", "EUR"),)
    assert (account.owner_id, account.name, account.currency) == ("owner-1", "Savings", "EUR")
    assert (account.balance, account.available, account.status) == (0, 0, "open")


@pytest.mark.parametrize("name", ["", "   ", "x" * (MAX_NAME_LENGTH + 1)])
def test_open_refuses_an_empty_or_too_long_name(name: str) -> None:
    with pytest.raises(errors.InvalidAccountName):
        Account.open("acc-1", "owner-1", name, "EUR")


def test_open_accepts_a_name_of_maximum_length() -> None:
    assert Account.open("a", "o", "x" * MAX_NAME_LENGTH, "EUR").name == "x" * MAX_NAME_LENGTH


def test_open_refuses_an_unsupported_currency() -> None:
    with pytest.raises(errors.UnsupportedCurrency):
        Account.open("acc-1", "owner-1", "Savings", "XYZ")


# -- deposit / withdraw ---------------------------------------------------------------------


def test_deposit_records_money_deposited_and_raises_the_balance() -> None:
    account = opened()
    account.deposit(eur(1050), "salary")

    assert account.pending_events == (MoneyDeposited(1050, "EUR", "salary"),)
    assert (account.balance, account.available) == (1050, 1050)


def test_withdraw_records_money_withdrawn_and_lowers_the_balance() -> None:
    account = opened(1000)
    account.withdraw(eur(400), "rent")

    assert account.pending_events == (MoneyWithdrawn(400, "EUR", "rent"),)
    assert account.balance == 600


def test_withdraw_may_empty_the_account_exactly() -> None:
    account = opened(1000)
    account.withdraw(eur(1000))
    assert account.balance == 0


def test_withdrawal_beyond_the_available_balance_is_refused_and_records_nothing() -> None:
    account = opened(1000)
    with pytest.raises(errors.InsufficientFunds):
        account.withdraw(eur(1001))
    assert account.pending_events == ()
    assert account.balance == 1000


@pytest.mark.parametrize("command", ["deposit", "withdraw"])
def test_money_of_another_currency_is_refused(command: str) -> None:
    account = opened(1000)
    with pytest.raises(errors.CurrencyMismatch):
        getattr(account, command)(Money(10, "USD"))
    assert account.pending_events == ()


@pytest.mark.parametrize("amount", [0, -5])
@pytest.mark.parametrize("command", ["deposit", "withdraw"])
def test_amounts_that_are_not_positive_are_refused(command: str, amount: int) -> None:
    account = opened(1000)
    with pytest.raises(errors.InvalidAmount):
        getattr(account, command)(eur(amount))
    assert account.pending_events == ()
    assert account.balance == 1000


def test_credit_of_a_negative_amount_is_refused() -> None:
    account = opened()
    with pytest.raises(errors.InvalidAmount):
        account.credit("t-1", eur(-100), "acc-2")
    assert account.balance == 0


# -- holds ----------------------------------------------------------------------------------


def test_a_hold_reduces_the_available_balance_but_not_the_balance() -> None:
    account = opened(1000)
    assert account.place_hold("t-1", eur(300)) is True

    assert account.pending_events == (FundsHeld("t-1", 300, "EUR"),)
    assert (account.balance, account.held, account.available) == (1000, 300, 700)


def test_a_withdrawal_cannot_spend_held_money() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    with pytest.raises(errors.InsufficientFunds):
        account.withdraw(eur(701))
    account.withdraw(eur(700))
    assert (account.balance, account.available) == (300, 0)


def test_a_hold_beyond_the_available_balance_is_refused() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(600))
    with pytest.raises(errors.InsufficientFunds):
        account.place_hold("t-2", eur(401))
    assert account.holds == {"t-1": 600}


def test_releasing_a_hold_restores_the_available_balance() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    account.collect_events()

    assert account.release_hold("t-1") is True
    assert account.pending_events == (HoldReleased("t-1", 300, "EUR"),)
    assert (account.balance, account.available, account.holds) == (1000, 1000, {})


def test_capturing_a_hold_takes_the_money_out_of_the_balance() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    account.collect_events()

    assert account.capture_hold("t-1", "acc-2", "gift") is True
    assert account.pending_events == (HoldCaptured("t-1", 300, "EUR", "acc-2", "gift"),)
    assert (account.balance, account.available, account.holds) == (700, 700, {})


def test_credit_records_money_credited_and_raises_the_balance() -> None:
    account = opened()
    assert account.credit("t-1", eur(250), "acc-2", "gift") is True

    assert account.pending_events == (MoneyCredited("t-1", 250, "EUR", "acc-2", "gift"),)
    assert (account.balance, account.available) == (250, 250)


def test_credit_in_another_currency_is_refused() -> None:
    account = opened()
    with pytest.raises(errors.CurrencyMismatch):
        account.credit("t-1", Money(250, "JPY"), "acc-2")
    assert account.pending_events == ()


# -- idempotent transfer steps --------------------------------------------------------------


def _step_twice(account: Account, step: Callable[[Account], bool]) -> None:
    assert step(account) is True
    account.collect_events()
    state = account.snapshot_state()

    assert step(account) is False
    assert account.pending_events == ()
    assert account.snapshot_state() == state


def test_placing_the_same_transfers_hold_twice_records_it_once() -> None:
    _step_twice(opened(1000), lambda a: a.place_hold("t-1", eur(300)))


def test_releasing_the_same_hold_twice_records_it_once() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    _step_twice(account, lambda a: a.release_hold("t-1"))


def test_capturing_the_same_hold_twice_records_it_once() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    _step_twice(account, lambda a: a.capture_hold("t-1", "acc-2"))


def test_crediting_the_same_transfer_twice_records_it_once() -> None:
    _step_twice(opened(), lambda a: a.credit("t-1", eur(100), "acc-2"))


@pytest.mark.parametrize("settle", ["release_hold", "capture_hold"])
def test_a_redelivered_hold_after_its_settlement_is_not_placed_again(settle: str) -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    args = ("t-1",) if settle == "release_hold" else ("t-1", "acc-2")
    getattr(account, settle)(*args)
    account.collect_events()

    assert account.place_hold("t-1", eur(300)) is False
    assert account.pending_events == ()
    assert account.holds == {}


def test_capturing_a_released_hold_does_nothing() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(300))
    account.release_hold("t-1")
    account.collect_events()

    assert account.capture_hold("t-1", "acc-2") is False
    assert (account.pending_events, account.balance) == ((), 1000)


def test_releasing_or_capturing_an_unknown_hold_does_nothing() -> None:
    account = opened(1000)
    assert account.release_hold("nope") is False
    assert account.capture_hold("nope", "acc-2") is False
    assert account.pending_events == ()


# -- close ----------------------------------------------------------------------------------


def test_close_at_zero_balance_records_account_closed() -> None:
    account = opened()
    account.close()
    assert account.pending_events == (AccountClosed(),)
    assert (account.closed, account.status) == (True, "closed")


def test_close_refuses_an_account_with_money() -> None:
    account = opened(1)
    with pytest.raises(errors.AccountNotEmpty):
        account.close()
    assert account.pending_events == ()


def test_close_refuses_an_account_with_a_hold_even_at_zero_available() -> None:
    account = opened(300)
    account.place_hold("t-1", eur(300))
    account.collect_events()
    with pytest.raises(errors.AccountNotEmpty):
        account.close()
    assert account.pending_events == ()


CLOSED_ACCOUNT_COMMANDS: dict[str, Callable[[Account], object]] = {
    "deposit": lambda a: a.deposit(eur(1)),
    "withdraw": lambda a: a.withdraw(eur(1)),
    "place_hold": lambda a: a.place_hold("t-9", eur(1)),
    "credit": lambda a: a.credit("t-9", eur(1), "acc-2"),
    "close": lambda a: a.close(),
}


@pytest.mark.parametrize("command", CLOSED_ACCOUNT_COMMANDS)
def test_a_closed_account_refuses_every_command(command: str) -> None:
    account = opened()
    account.close()
    account.collect_events()

    with pytest.raises(errors.AccountClosed):
        CLOSED_ACCOUNT_COMMANDS[command](account)
    assert account.pending_events == ()


def test_a_closed_account_has_no_hold_to_release_or_capture() -> None:
    account = opened()
    account.close()
    account.collect_events()

    assert account.release_hold("t-1") is False
    assert account.capture_hold("t-1", "acc-2") is False
    assert account.pending_events == ()


def test_a_redelivered_credit_to_an_account_closed_since_stays_a_no_op() -> None:
    account = opened()
    account.credit("t-1", eur(100), "acc-2")
    account.withdraw(eur(100))
    account.close()
    account.collect_events()

    assert account.credit("t-1", eur(100), "acc-2") is False
    assert (account.pending_events, account.balance) == ((), 0)


# -- events and state -----------------------------------------------------------------------


def test_collect_events_hands_over_new_events_once() -> None:
    account = Account.open("acc-1", "owner-1", "Savings", "EUR")
    account.deposit(eur(5))

    assert [type(e) for e in account.collect_events()] == [AccountOpened, MoneyDeposited]
    assert account.collect_events() == []


def test_events_are_immutable_facts() -> None:
    event = MoneyDeposited(1, "EUR")
    with pytest.raises(AttributeError):
        event.amount = 2  # type: ignore[misc]


def test_money_deposited_is_at_schema_version_two() -> None:
    assert MoneyDeposited.schema_version == 2
    assert MoneyWithdrawn.schema_version == 1


def test_replay_rebuilds_state_and_counts_the_version() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(100))
    account.credit("t-2", eur(50), "acc-2")
    events = account.collect_events()

    fresh = Account("acc-1")
    fresh.replay(
        [
            *Account.open("acc-1", "owner-1", "Savings", "EUR").collect_events(),
            MoneyDeposited(1000, "EUR"),
            *events,
        ]
    )

    assert fresh.version == 4
    assert fresh.snapshot_state() == account.snapshot_state()
    assert fresh.pending_events == ()


def test_replay_refuses_an_event_of_another_aggregate() -> None:
    with pytest.raises(TypeError):
        Account("acc-1").replay([object()])  # type: ignore[list-item]


def test_snapshot_round_trips_through_json() -> None:
    account = opened(1000)
    account.place_hold("t-1", eur(100))
    account.place_hold("t-2", eur(200))
    account.release_hold("t-2")
    account.credit("t-3", eur(50), "acc-2")
    account.collect_events()
    account.version = 6

    state = json.loads(json.dumps(account.snapshot_state()))
    restored = Account.from_snapshot("acc-1", 6, state)

    assert restored.version == 6
    assert restored.snapshot_state() == account.snapshot_state()
    assert (restored.holds, restored.settled_holds, restored.credits) == (
        {"t-1": 100},
        {"t-2"},
        {"t-3"},
    )
    assert restored.place_hold("t-2", eur(1)) is False
    assert restored.credit("t-3", eur(1), "acc-2") is False
