"""Account use cases: open, deposit, withdraw, close. Each is one transaction on one account."""

from __future__ import annotations

from backend.application.command_runner import CommandContext
from backend.application.commands import CloseAccount, Deposit, OpenAccount, Withdraw
from backend.application.errors import NotFound, PreconditionFailed
from backend.application.ports.event_store import StoredEvent
from backend.domain.account import Account
from backend.domain.money import Money


def open_account(command: OpenAccount, ctx: CommandContext) -> Account:
    account = Account.open(ctx.ids.new_id(), command.owner_id, command.name, command.currency)
    ctx.accounts.save(account, ctx.metadata)
    return account


def deposit(command: Deposit, ctx: CommandContext) -> StoredEvent:
    """Add money; returns the stored event, whose id is the transaction id."""
    account = load_owned(ctx, command.account_id, command.owner_id, command.expected_version)
    account.deposit(Money.positive(command.amount, account.currency), command.reference)
    return ctx.accounts.save(account, ctx.metadata)[-1]


def withdraw(command: Withdraw, ctx: CommandContext) -> StoredEvent:
    account = load_owned(ctx, command.account_id, command.owner_id, command.expected_version)
    account.withdraw(Money.positive(command.amount, account.currency), command.reference)
    return ctx.accounts.save(account, ctx.metadata)[-1]


def close_account(command: CloseAccount, ctx: CommandContext) -> Account:
    account = load_owned(ctx, command.account_id, command.owner_id, command.expected_version)
    account.close()
    ctx.accounts.save(account, ctx.metadata)
    return account


def load_owned(
    ctx: CommandContext, account_id: str, owner_id: str, expected_version: int | None = None
) -> Account:
    """The caller's account; someone else's is NotFound, never a hint that it exists."""
    account = ctx.accounts.get(account_id)
    if account is None or account.owner_id != owner_id:
        raise NotFound(f"account {account_id}")
    if expected_version is not None and expected_version != account.version:
        raise PreconditionFailed(f"account is at version {account.version}")
    return account
