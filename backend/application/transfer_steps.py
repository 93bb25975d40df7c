"""The steps of a transfer: each the account change its step needs and the transfer's record
of it, made on one command context (so one transaction: the engine's round).

Every step is idempotent: on an account that already shows it done (a round that committed,
then its engine died before it knew), it changes nothing there and records it on the transfer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from backend.application.command_bus import CommandContext
from backend.application.errors import NotFound
from backend.application.ports.event_store import EventMetadata
from backend.domain import errors
from backend.domain.account import Account
from backend.domain.transfer import FailureReason, Step, Transfer

#: One step: changes the accounts it needs (saved with the metadata) and records on the transfer.
StepRunner = Callable[[CommandContext, Transfer, EventMetadata, datetime], None]

HOLD_REFUSALS: Final[dict[type[errors.DomainError], FailureReason]] = {
    errors.InsufficientFunds: FailureReason.INSUFFICIENT_FUNDS,
    errors.AccountClosed: FailureReason.SOURCE_ACCOUNT_CLOSED,
    errors.CurrencyMismatch: FailureReason.CURRENCY_MISMATCH,
}
CREDIT_REFUSALS: Final[dict[type[errors.DomainError], FailureReason]] = {
    errors.AccountClosed: FailureReason.TARGET_ACCOUNT_CLOSED,
    errors.CurrencyMismatch: FailureReason.CURRENCY_MISMATCH,
}


def hold(ctx: CommandContext, transfer: Transfer, meta: EventMetadata, now: datetime) -> None:
    """Hold the money on the source: the semantic lock no other spending can take."""
    source = _source(ctx, transfer)
    try:
        placed = source.place_hold(transfer.id, transfer.money)
    except tuple(HOLD_REFUSALS) as error:
        transfer.hold_refused(HOLD_REFUSALS[type(error)])
        return
    if placed:
        ctx.accounts.save(source, meta)
    if transfer.id in source.holds:  # placed now, or by a round whose record was lost
        transfer.hold_placed(now)
    else:  # settled while the transfer still says requested: its records are broken
        raise errors.DomainError(f"the hold of transfer {transfer.id} settled before it was held")


def credit(ctx: CommandContext, transfer: Transfer, meta: EventMetadata, _now: datetime) -> None:
    """Credit the target, or compensate when it cannot take the money."""
    target = ctx.accounts.get(transfer.target_account_id)
    if target is None:
        transfer.credit_refused(FailureReason.TARGET_ACCOUNT_NOT_FOUND)
        return
    try:
        credited = target.credit(
            transfer.id, transfer.money, transfer.source_account_id, transfer.reference
        )
    except tuple(CREDIT_REFUSALS) as error:
        transfer.credit_refused(CREDIT_REFUSALS[type(error)])
        return
    if credited:
        ctx.accounts.save(target, meta)
    transfer.target_credited()  # credited now, or before (the record was lost)


def capture(ctx: CommandContext, transfer: Transfer, meta: EventMetadata, _now: datetime) -> None:
    """The held money leaves the source: the transfer completed."""
    source = _source(ctx, transfer)
    if source.capture_hold(transfer.id, transfer.target_account_id, transfer.reference):
        ctx.accounts.save(source, meta)
    # After the credit nothing releases the hold, so a settled hold here was captured.
    transfer.hold_captured()


def release(ctx: CommandContext, transfer: Transfer, meta: EventMetadata, _now: datetime) -> None:
    """Compensation: give the hold back (if there is one); the transfer failed."""
    source = _source(ctx, transfer)
    if source.release_hold(transfer.id):
        ctx.accounts.save(source, meta)
    transfer.hold_released()  # released now, before, or never held


def time_out(_ctx: CommandContext, transfer: Transfer, _meta: EventMetadata, now: datetime) -> None:
    """Past its deadline before the hold: compensate (the release step follows)."""
    transfer.time_out(now)


#: The runner of each step a transfer can ask for.
STEPS: Final[dict[Step, StepRunner]] = {
    Step.HOLD: hold,
    Step.CREDIT: credit,
    Step.CAPTURE: capture,
    Step.RELEASE: release,
    Step.TIME_OUT: time_out,
}


def _source(ctx: CommandContext, transfer: Transfer) -> Account:
    source = ctx.accounts.get(transfer.source_account_id)
    if source is None:
        raise NotFound(f"account {transfer.source_account_id}")
    return source
