"""Account use cases: open, deposit, withdraw, close. Each is one transaction on one account."""

from __future__ import annotations

from backend.application.command_bus import CommandContext
from backend.application.commands import CloseAccount, Deposit, OpenAccount, Withdraw
from backend.application.errors import NotFound, PreconditionFailed
from backend.application.projections.transactions import transaction_for
from backend.application.queries import TransactionView, transaction_view
from backend.domain.account import Account
from backend.domain.money import Money


def open_account(command: OpenAccount, ctx: CommandContext) -> Account:
    account = Account.open(ctx.ids.new_id(), command.owner_id, command.name, command.currency)
    ctx.accounts.save(account, ctx.metadata)
    return account


def deposit(command: Deposit, ctx: CommandContext) -> TransactionView:
    """Add money; the transaction's id is the id of the event that moved it."""
    account = load_owned(ctx, command.account_id, command.owner_id, command.expected_version)
    account.deposit(Money.positive(command.amount, account.currency), command.reference)
    return _moved(ctx, account)


def withdraw(command: Withdraw, ctx: CommandContext) -> TransactionView:
    account = load_owned(ctx, command.account_id, command.owner_id, command.expected_version)
    account.withdraw(Money.positive(command.amount, account.currency), command.reference)
    return _moved(ctx, account)


def close_account(command: CloseAccount, ctx: CommandContext) -> Account:
    account = load_owned(ctx, command.account_id, command.owner_id, command.expected_version)
    account.close()
    ctx.accounts.save(account, ctx.metadata)
    return account


def load_owned(
    ctx: CommandContext,
    account_id: str,
    owner_id: str,
    expected_version: int | None = None,
    *,
    cached: bool = True,
) -> Account:
    """The caller's account; someone else's is NotFound, never a hint that it exists.
    `cached=False` reads it from the store (for a command that will not save it)."""
    account = ctx.accounts.get(account_id, cached=cached)
    if account is None or account.owner_id != owner_id:
        raise NotFound(f"account {account_id}")
    if expected_version is not None and expected_version != account.version:
        raise PreconditionFailed(f"account is at version {account.version}")
    return account


def _moved(ctx: CommandContext, account: Account) -> TransactionView:
    """Save the account's one new event: the Transaction it is, built as the read model's row."""
    event = account.pending_events[-1]
    stored = ctx.accounts.save(account, ctx.metadata)[-1]
    row = transaction_for(event, stored, account.balance)
    if row is None:
        raise TypeError(f"{stored.type} moves no money")
    return transaction_view(row)
