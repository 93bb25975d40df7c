"""The single transactions of the transfer saga, sequenced by TransferProcess.

An account step is one transaction on an account for the stage the transfer reached; it
returns what the transfer should record next (a TransferStep), if anything. A TransferStep is
one change of the transfer itself, recorded in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from backend.application.command_bus import CommandContext
from backend.application.commands import TransferStep
from backend.application.errors import NotFound
from backend.domain import errors
from backend.domain.transfer import FailureReason, Transfer, TransferStage

#: A transaction on an account for a transfer; returns the transfer's follow-up, if any.
AccountStep = Callable[[CommandContext, Transfer], TransferStep | None]

HOLD_REFUSALS: Final[dict[type[errors.DomainError], FailureReason]] = {
    errors.InsufficientFunds: FailureReason.INSUFFICIENT_FUNDS,
    errors.AccountClosed: FailureReason.SOURCE_ACCOUNT_CLOSED,
    errors.CurrencyMismatch: FailureReason.CURRENCY_MISMATCH,
}
CREDIT_REFUSALS: Final[dict[type[errors.DomainError], FailureReason]] = {
    errors.AccountClosed: FailureReason.TARGET_ACCOUNT_CLOSED,
    errors.CurrencyMismatch: FailureReason.CURRENCY_MISMATCH,
}


def refused(step: Callable[[Transfer, FailureReason], bool], reason: FailureReason) -> TransferStep:
    return lambda transfer, _now: step(transfer, reason)


def hold_placed(transfer: Transfer, now: datetime) -> bool:
    return transfer.hold_placed(now)


def target_credited(transfer: Transfer, _now: datetime) -> bool:
    return transfer.target_credited()


def hold_captured(transfer: Transfer, _now: datetime) -> bool:
    return transfer.hold_captured()


def hold_released(transfer: Transfer, _now: datetime) -> bool:
    return transfer.hold_released()


def nothing_to_release(transfer: Transfer, _now: datetime) -> bool:
    """Never held: the compensation is complete without an account change."""
    return transfer.hold_released()


#: Follow-ups that only re-derive what a confirmation event will record anyway.
CATCH_UPS: Final = frozenset({hold_placed, target_credited, hold_captured, hold_released})
#: What the transfer records once the account step of its stage is done.
RECORDS: Final[dict[TransferStage, TransferStep]] = {
    TransferStage.REQUESTED: hold_placed,
    TransferStage.FUNDS_HELD: target_credited,
    TransferStage.TARGET_CREDITED: hold_captured,
    TransferStage.COMPENSATING: hold_released,
}


def transfer_of(ctx: CommandContext, transfer_id: str) -> Transfer:
    transfer = ctx.transfers.get(transfer_id)
    if transfer is None:
        raise NotFound(f"transfer {transfer_id}")
    return transfer


def place_hold(ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
    if transfer.stage is not TransferStage.REQUESTED:
        return None
    if ctx.clock.now() > transfer.deadline:
        return Transfer.time_out  # too late to start: compensate instead (timed_out)
    source = ctx.accounts.get(transfer.source_account_id)
    if source is None:
        raise NotFound(f"account {transfer.source_account_id}")
    try:
        placed = source.place_hold(transfer.id, transfer.money)
    except tuple(HOLD_REFUSALS) as error:
        return refused(Transfer.hold_refused, HOLD_REFUSALS[type(error)])
    if placed:
        ctx.accounts.save(source, ctx.metadata)
        return None
    return hold_placed if transfer.id in source.holds else None


def credit(ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
    if transfer.stage is not TransferStage.FUNDS_HELD:
        return None
    target = ctx.accounts.get(transfer.target_account_id)
    if target is None:
        return refused(Transfer.credit_refused, FailureReason.TARGET_ACCOUNT_NOT_FOUND)
    try:
        credited = target.credit(
            transfer.id, transfer.money, transfer.source_account_id, transfer.reference
        )
    except tuple(CREDIT_REFUSALS) as error:
        return refused(Transfer.credit_refused, CREDIT_REFUSALS[type(error)])
    if credited:
        ctx.accounts.save(target, ctx.metadata)
        return None
    return target_credited  # credited before: the confirmation may have been lost


def capture(ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
    if transfer.stage is not TransferStage.TARGET_CREDITED:
        return None
    source = ctx.accounts.get(transfer.source_account_id)
    if source is None:
        raise NotFound(f"account {transfer.source_account_id}")
    target_id, reference = transfer.target_account_id, transfer.reference
    if source.capture_hold(transfer.id, target_id, reference):
        ctx.accounts.save(source, ctx.metadata)
        return None
    # After the credit no step releases the hold, so a settled hold here was captured.
    return hold_captured if transfer.id in source.settled_holds else None


def release(ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
    if not transfer.must_release_hold:
        return None
    source = ctx.accounts.get(transfer.source_account_id)
    if source is None:
        raise NotFound(f"account {transfer.source_account_id}")
    if source.release_hold(transfer.id):
        ctx.accounts.save(source, ctx.metadata)
        return None
    if transfer.id in source.settled_holds:
        return hold_released  # given back before: HoldReleased confirms it
    # Never held: the compensation is complete. A hold placed later still shows up as
    # FundsHeld, and funds_held gives it back.
    return nothing_to_release
