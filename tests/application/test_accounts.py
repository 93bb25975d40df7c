"""Account use cases through the CommandRunner over in-memory adapters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from backend.application import accounts
from backend.application.command_runner import CommandContext, CommandRunner
from backend.application.commands import CloseAccount, Deposit, OpenAccount, Withdraw
from backend.application.errors import NotFound, PreconditionFailed
from backend.application.ports.event_store import EventMetadata
from backend.domain import errors
from backend.domain.account import Account
from backend.domain.money import Money
from backend.domain.transfer import Transfer
from tests.application.conftest import AccountOpener
from tests.fakes import InMemoryApp

T = TypeVar("T")
META = EventMetadata(user_id="owner-1", request_id="req-1")


def run(runner: CommandRunner, handler: Callable[[CommandContext], T]) -> T:
    return runner.run(handler, META)


def load(runner: CommandRunner, account_id: str) -> Account:
    account = run(runner, lambda ctx: ctx.accounts.get(account_id))
    assert account is not None
    return account


def stream_types(app: InMemoryApp, account_id: str) -> list[str]:
    return [event.type for event in app.db.streams.get(account_id, [])]


def test_open_account_stores_account_opened_for_the_owner(
    runner: CommandRunner, memory_app: InMemoryApp
) -> None:
    account = run(
        runner, lambda ctx: accounts.open_account(OpenAccount("owner-1", "Rent", "JPY"), ctx)
    )

    assert account.version == 1
    stored = load(runner, account.id)
    assert (stored.owner_id, stored.name, stored.currency, stored.balance) == (
        "owner-1",
        "Rent",
        "JPY",
        0,
    )
    assert stream_types(memory_app, account.id) == ["AccountOpened"]


def test_deposit_returns_the_stored_event_that_is_the_transaction(
    runner: CommandRunner, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account()
    event = run(
        runner, lambda ctx: accounts.deposit(Deposit("owner-1", account_id, 1050, "pay"), ctx)
    )

    assert (event.type, event.stream_id, event.version) == ("MoneyDeposited", account_id, 2)
    assert event.data == {"amount": 1050, "currency": "EUR", "reference": "pay"}
    assert memory_app.db.streams[account_id][-1].event_id == event.event_id
    assert load(runner, account_id).balance == 1050


def test_withdraw_lowers_the_balance(runner: CommandRunner, open_account: AccountOpener) -> None:
    account_id = open_account(balance=1000)
    event = run(runner, lambda ctx: accounts.withdraw(Withdraw("owner-1", account_id, 300), ctx))

    assert (event.type, event.data["amount"]) == ("MoneyWithdrawn", 300)
    assert load(runner, account_id).balance == 700


def test_a_withdrawal_beyond_the_balance_is_refused_and_stores_nothing(
    runner: CommandRunner, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account(balance=100)
    with pytest.raises(errors.InsufficientFunds):
        run(runner, lambda ctx: accounts.withdraw(Withdraw("owner-1", account_id, 101), ctx))

    assert stream_types(memory_app, account_id) == ["AccountOpened", "MoneyDeposited"]
    # The failed transaction let go of the append lock: the next command still commits.
    run(runner, lambda ctx: accounts.withdraw(Withdraw("owner-1", account_id, 100), ctx))
    assert load(runner, account_id).balance == 0


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_an_amount_that_is_not_a_positive_integer_is_refused(
    runner: CommandRunner, open_account: AccountOpener, amount: int
) -> None:
    account_id = open_account(balance=100)
    with pytest.raises(errors.InvalidAmount):
        run(runner, lambda ctx: accounts.deposit(Deposit("owner-1", account_id, amount), ctx))
    assert load(runner, account_id).balance == 100


def test_close_account_closes_an_empty_account(
    runner: CommandRunner, open_account: AccountOpener, memory_app: InMemoryApp
) -> None:
    account_id = open_account(balance=100)
    run(runner, lambda ctx: accounts.withdraw(Withdraw("owner-1", account_id, 100), ctx))
    closed = run(
        runner, lambda ctx: accounts.close_account(CloseAccount("owner-1", account_id), ctx)
    )

    assert (closed.status, closed.version) == ("closed", 4)
    assert stream_types(memory_app, account_id)[-1] == "AccountClosed"
    with pytest.raises(errors.AccountClosed):
        run(runner, lambda ctx: accounts.deposit(Deposit("owner-1", account_id, 1), ctx))


def test_close_account_refuses_an_account_with_money(
    runner: CommandRunner, open_account: AccountOpener
) -> None:
    account_id = open_account(balance=1)
    with pytest.raises(errors.AccountNotEmpty):
        run(runner, lambda ctx: accounts.close_account(CloseAccount("owner-1", account_id), ctx))
    assert load(runner, account_id).status == "open"


COMMANDS: dict[str, Callable[[str, str], Callable[[CommandContext], object]]] = {
    "deposit": lambda owner, aid: lambda ctx: accounts.deposit(Deposit(owner, aid, 1), ctx),
    "withdraw": lambda owner, aid: lambda ctx: accounts.withdraw(Withdraw(owner, aid, 1), ctx),
    "close": lambda owner, aid: lambda ctx: accounts.close_account(CloseAccount(owner, aid), ctx),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_another_owners_account_is_not_found(
    runner: CommandRunner, open_account: AccountOpener, memory_app: InMemoryApp, command: str
) -> None:
    account_id = open_account(owner_id="owner-1", balance=10)
    with pytest.raises(NotFound):
        run(runner, COMMANDS[command]("intruder", account_id))
    assert stream_types(memory_app, account_id) == ["AccountOpened", "MoneyDeposited"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_account_is_not_found(runner: CommandRunner, command: str) -> None:
    with pytest.raises(NotFound):
        run(runner, COMMANDS[command]("owner-1", "no-such-account"))


def test_a_transfer_id_used_as_an_account_id_is_not_found(
    runner: CommandRunner, open_account: AccountOpener
) -> None:
    source, target = open_account(balance=10), open_account()

    def request(ctx: CommandContext) -> Transfer:
        transfer = Transfer.request(
            "t-1",
            source,
            target,
            Money(5, "EUR"),
            None,
            "owner-1",
            ctx.clock.now(),
            timedelta(seconds=30),
        )
        ctx.transfers.save(transfer, ctx.metadata)
        return transfer

    run(runner, request)
    with pytest.raises(NotFound):
        run(runner, COMMANDS["deposit"]("owner-1", "t-1"))


def test_a_matching_expected_version_lets_the_command_through(
    runner: CommandRunner, open_account: AccountOpener
) -> None:
    account_id = open_account(balance=10)  # version 2
    command = Withdraw("owner-1", account_id, 5, expected_version=2)
    assert run(runner, lambda ctx: accounts.withdraw(command, ctx)).version == 3


@pytest.mark.parametrize("expected_version", [1, 3])
def test_a_stale_expected_version_is_a_failed_precondition(
    runner: CommandRunner,
    open_account: AccountOpener,
    memory_app: InMemoryApp,
    expected_version: int,
) -> None:
    account_id = open_account(balance=10)  # version 2
    deposit = Deposit("owner-1", account_id, 5, expected_version=expected_version)
    withdraw = Withdraw("owner-1", account_id, 5, expected_version=expected_version)
    with pytest.raises(PreconditionFailed):
        run(runner, lambda ctx: accounts.deposit(deposit, ctx))
    with pytest.raises(PreconditionFailed):
        run(runner, lambda ctx: accounts.withdraw(withdraw, ctx))
    close = CloseAccount("owner-1", account_id, expected_version=expected_version)
    with pytest.raises(PreconditionFailed):
        run(runner, lambda ctx: accounts.close_account(close, ctx))
    assert len(memory_app.db.streams[account_id]) == 2


def test_not_found_wins_over_a_precondition_on_someone_elses_account(
    runner: CommandRunner, open_account: AccountOpener
) -> None:
    account_id = open_account(owner_id="owner-1")
    command = Deposit("intruder", account_id, 5, expected_version=99)
    with pytest.raises(NotFound):
        run(runner, lambda ctx: accounts.deposit(command, ctx))
