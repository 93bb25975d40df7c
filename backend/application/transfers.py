"""Transfer use cases: requesting a transfer, and the process manager that runs its saga.

Each step is one transaction on one aggregate, run through the CommandRunner with the transfer
id as correlation id and the triggering event as causation id. Steps are idempotent: a step
delivered twice (or late, or out of order) finds the work done and changes nothing, or advances
the transfer from what the account already shows.

`TransferProcess.drive` chains the steps: the transfer's first message runs its whole saga in
one job, and every later message of it drives it on from wherever a crash left it (a no-op
once it ended). The single steps stay for the tests that stop a saga between two of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeVar

from backend.application.accounts import load_owned
from backend.application.command_runner import CommandContext, CommandRunner
from backend.application.commands import RequestTransfer
from backend.application.errors import NotFound
from backend.application.ports import EventMetadata
from backend.domain import errors
from backend.domain.account import Account
from backend.domain.money import Money
from backend.domain.transfer import FailureReason, Transfer, TransferStage

T = TypeVar("T")

DEFAULT_TRANSFER_TIMEOUT: Final[timedelta] = timedelta(seconds=60)

#: A change of the transfer itself, recorded in its own transaction after an account step.
TransferStep = Callable[[Transfer, datetime], bool]
#: A transaction on an account for a transfer; returns the transfer's follow-up, if any.
AccountStep = Callable[[CommandContext, Transfer], TransferStep | None]

_HOLD_REFUSALS: Final[dict[type[errors.DomainError], FailureReason]] = {
    errors.InsufficientFunds: FailureReason.INSUFFICIENT_FUNDS,
    errors.AccountClosed: FailureReason.SOURCE_ACCOUNT_CLOSED,
    errors.CurrencyMismatch: FailureReason.CURRENCY_MISMATCH,
}
_CREDIT_REFUSALS: Final[dict[type[errors.DomainError], FailureReason]] = {
    errors.AccountClosed: FailureReason.TARGET_ACCOUNT_CLOSED,
    errors.CurrencyMismatch: FailureReason.CURRENCY_MISMATCH,
}
_TERMINAL: Final = (TransferStage.COMPLETED, TransferStage.FAILED)
#: The longest paths take three stages (hold, credit, capture; or hold, refused credit,
#: release), each a step and its record; the rest is slack for stages another worker took.
_MAX_DRIVE_STEPS: Final = 8


def request_transfer(
    command: RequestTransfer, ctx: CommandContext, timeout: timedelta = DEFAULT_TRANSFER_TIMEOUT
) -> Transfer:
    """Accept a transfer out of the caller's account; the saga decides the rest."""
    source = load_owned(ctx, command.source_account_id, command.owner_id)
    transfer = Transfer.request(
        ctx.ids.new_id(),
        source.id,
        command.target_account_id,
        Money.positive(command.amount, source.currency),
        command.reference,
        command.owner_id,
        ctx.clock.now(),
        timeout,
    )
    # Every event of the saga shares the transfer id as correlation id, from the first on.
    ctx.transfers.save(transfer, dataclasses.replace(ctx.metadata, correlation_id=transfer.id))
    return transfer


def _refused(
    step: Callable[[Transfer, FailureReason], bool], reason: FailureReason
) -> TransferStep:
    return lambda transfer, _now: step(transfer, reason)


def _hold_placed(transfer: Transfer, now: datetime) -> bool:
    return transfer.hold_placed(now)


def _target_credited(transfer: Transfer, _now: datetime) -> bool:
    return transfer.target_credited()


def _hold_captured(transfer: Transfer, _now: datetime) -> bool:
    return transfer.hold_captured()


def _hold_released(transfer: Transfer, _now: datetime) -> bool:
    return transfer.hold_released()


def _nothing_to_release(transfer: Transfer, _now: datetime) -> bool:
    """Never held: the compensation is complete without an account change."""
    return transfer.hold_released()


#: Follow-ups that only re-derive what a confirmation event will record anyway.
_CATCH_UPS: Final = frozenset({_hold_placed, _target_credited, _hold_captured, _hold_released})
#: What the transfer records once the account step of its stage is done.
_RECORDS: Final[dict[TransferStage, TransferStep]] = {
    TransferStage.REQUESTED: _hold_placed,
    TransferStage.FUNDS_HELD: _target_credited,
    TransferStage.TARGET_CREDITED: _hold_captured,
    TransferStage.COMPENSATING: _hold_released,
}


def _account(ctx: CommandContext, account_id: str) -> Account | None:
    """The account, or None when no account has that id (even if another stream does)."""
    first = ctx.uow.events.read_stream(account_id, limit=1)
    if first and first[0].stream_type != Account.STREAM_TYPE:
        return None
    return ctx.accounts.get(account_id)


def _transfer(ctx: CommandContext, transfer_id: str) -> Transfer:
    transfer = ctx.transfers.get(transfer_id)
    if transfer is None:
        raise NotFound(f"transfer {transfer_id}")
    return transfer


@dataclass
class TransferProcess:
    """The process manager of the transfer saga: one small method per step."""

    runner: CommandRunner

    # -- single steps on an account: the step of the stage the transfer reached --------------

    def hold_funds(self, transfer_id: str, cause: str | None) -> None:
        """Requested: hold the money on the source (or time out when already too late)."""
        self._account_step(transfer_id, cause, self._place_hold)

    def credit_target(self, transfer_id: str, cause: str | None) -> None:
        """Funds held (the point of no return): credit the target, or compensate on refusal."""
        self._account_step(transfer_id, cause, self._credit)

    def capture_hold(self, transfer_id: str, cause: str | None) -> None:
        """Target credited: the held money leaves the source."""
        self._account_step(transfer_id, cause, self._capture)

    def release_hold(self, transfer_id: str, cause: str | None) -> None:
        """Compensating: give the hold back (or fail at once when there is none)."""
        self._account_step(transfer_id, cause, self._release)

    # -- single steps on the transfer: it takes note of what an account step did ------------

    def confirm_hold(self, transfer_id: str, cause: str | None) -> None:
        """A hold exists: go on, or give it back when the transfer already gave up."""
        if self._run(transfer_id, cause, self._note_hold):
            self._account_step(transfer_id, cause, self._release)

    def confirm_credit(self, transfer_id: str, cause: str | None) -> None:
        self._advance(transfer_id, cause, _target_credited)

    def confirm_capture(self, transfer_id: str, cause: str | None) -> None:
        self._advance(transfer_id, cause, _hold_captured)

    def confirm_release(self, transfer_id: str, cause: str | None) -> None:
        self._advance(transfer_id, cause, _hold_released)

    # -- the saga's entry point: every message of a transfer, and the sweeper ---------------

    def drive(self, transfer_id: str, cause: str | None = None) -> str | None:
        """Take every step the transfer can take now; returns its public status (None when no
        transfer has that id).

        TransferRequested runs the whole saga in its one job; any later message of the
        transfer (redelivered, or left by a job that died between two steps) goes on from
        wherever it stands, and the sweeper drives the overdue ones. Unlike a single step, a
        step that finds its work done on the account, or just did it, is recorded on the
        transfer at once, without waiting for the confirming message. On a transfer that
        ended it reads the transfer once and appends nothing.

        `cause` is the triggering event (default: the transfer's latest); each later step is
        caused by the event the step before it appended.
        """
        try:
            if cause is None:
                transfer, cause = self._run(transfer_id, None, _load)
            else:
                transfer = self._run(transfer_id, cause, _as_is)
        except NotFound:
            return None
        for _ in range(_MAX_DRIVE_STEPS):
            if transfer.stage in _TERMINAL:
                break
            transfer, cause = self._drive_stage(transfer, cause)
        return transfer.status

    def funds_held(self, transfer_id: str, cause: str | None) -> None:
        """FundsHeld: drive the transfer on. A hold that shows up for a transfer that already
        failed (placed by a step that read it before it gave up) is given back."""
        if self.drive(transfer_id, cause) == "failed":
            self._account_step(transfer_id, cause, self._release)

    def _drive_stage(self, transfer: Transfer, cause: str | None) -> tuple[Transfer, str | None]:
        """The account step of the transfer's stage, then its record on the transfer (one
        transaction each); the transfer as it is now, and the cause of the next step."""
        stage = transfer.stage
        follow_up, done = self._run(transfer.id, cause, _noting_appended(self._stage_step(stage)))
        if done is not None:  # the account changed just now: record it without its message
            follow_up, cause = _RECORDS[stage], done
        if follow_up is None:  # nothing to do at this stage: another worker moved it on
            return self._run(transfer.id, cause, _as_is), cause
        return self._advance(transfer.id, cause, follow_up)

    def _stage_step(self, stage: TransferStage) -> AccountStep:
        steps: dict[TransferStage, AccountStep] = {
            TransferStage.REQUESTED: self._place_hold,
            TransferStage.FUNDS_HELD: self._credit,
            TransferStage.TARGET_CREDITED: self._capture,
            TransferStage.COMPENSATING: self._release,
        }
        return steps[stage]

    # -- one transaction each ---------------------------------------------------------------

    def _place_hold(self, ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
        if transfer.stage is not TransferStage.REQUESTED:
            return None
        if ctx.clock.now() > transfer.deadline:
            return Transfer.time_out  # too late to start: compensate instead (timed_out)
        source = _account(ctx, transfer.source_account_id)
        if source is None:
            raise NotFound(f"account {transfer.source_account_id}")
        try:
            placed = source.place_hold(transfer.id, transfer.money)
        except tuple(_HOLD_REFUSALS) as error:
            return _refused(Transfer.hold_refused, _HOLD_REFUSALS[type(error)])
        if placed:
            ctx.accounts.save(source, ctx.metadata)
            return None
        return _hold_placed if transfer.id in source.holds else None

    def _credit(self, ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
        if transfer.stage is not TransferStage.FUNDS_HELD:
            return None
        target = _account(ctx, transfer.target_account_id)
        if target is None:
            return _refused(Transfer.credit_refused, FailureReason.TARGET_ACCOUNT_NOT_FOUND)
        try:
            credited = target.credit(
                transfer.id, transfer.money, transfer.source_account_id, transfer.reference
            )
        except tuple(_CREDIT_REFUSALS) as error:
            return _refused(Transfer.credit_refused, _CREDIT_REFUSALS[type(error)])
        if credited:
            ctx.accounts.save(target, ctx.metadata)
            return None
        return _target_credited  # credited before: the confirmation may have been lost

    def _capture(self, ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
        if transfer.stage is not TransferStage.TARGET_CREDITED:
            return None
        source = _account(ctx, transfer.source_account_id)
        if source is None:
            raise NotFound(f"account {transfer.source_account_id}")
        target_id, reference = transfer.target_account_id, transfer.reference
        if source.capture_hold(transfer.id, target_id, reference):
            ctx.accounts.save(source, ctx.metadata)
            return None
        # After the credit no step releases the hold, so a settled hold here was captured.
        return _hold_captured if transfer.id in source.settled_holds else None

    def _release(self, ctx: CommandContext, transfer: Transfer) -> TransferStep | None:
        if not transfer.must_release_hold:
            return None
        source = _account(ctx, transfer.source_account_id)
        if source is None:
            raise NotFound(f"account {transfer.source_account_id}")
        if source.release_hold(transfer.id):
            ctx.accounts.save(source, ctx.metadata)
            return None
        if transfer.id in source.settled_holds:
            return _hold_released  # given back before: HoldReleased confirms it
        # Never held: the compensation is complete. A hold placed later still shows up as
        # FundsHeld, and funds_held gives it back.
        return _nothing_to_release

    def _note_hold(self, ctx: CommandContext, transfer: Transfer) -> bool:
        """Record the hold on the transfer; True when the hold must be given back instead."""
        if transfer.must_release_hold:
            return True
        if transfer.hold_placed(ctx.clock.now()):
            ctx.transfers.save(transfer, ctx.metadata)
        return False

    # -- plumbing ---------------------------------------------------------------------------

    def _account_step(self, transfer_id: str, cause: str | None, step: AccountStep) -> None:
        """One transaction on an account; then, if it says so, one on the transfer.

        A catch-up (the account already shows the step done) is left to the confirmation
        event (or to `drive`): a redelivered single step changes nothing.
        """
        follow_up = self._run(transfer_id, cause, step)
        if follow_up is not None and follow_up not in _CATCH_UPS:
            self._advance(transfer_id, cause, follow_up)

    def _advance(
        self, transfer_id: str, cause: str | None, step: TransferStep
    ) -> tuple[Transfer, str | None]:
        """One transaction on the transfer: the transfer after it, and the event it recorded
        (else `cause`)."""

        def handler(ctx: CommandContext, transfer: Transfer) -> tuple[Transfer, str | None]:
            if step(transfer, ctx.clock.now()):
                stored = ctx.transfers.save(transfer, ctx.metadata)
                return transfer, stored[-1].event_id if stored else cause
            return transfer, cause

        return self._run(transfer_id, cause, handler)

    def _run(
        self,
        transfer_id: str,
        cause: str | None,
        handler: Callable[[CommandContext, Transfer], T],
    ) -> T:
        metadata = EventMetadata(correlation_id=transfer_id, causation_id=cause)
        return self.runner.run(lambda ctx: handler(ctx, _transfer(ctx, transfer_id)), metadata)


def _load(ctx: CommandContext, transfer: Transfer) -> tuple[Transfer, str | None]:
    """The transfer and the id of its latest event (the cause of the step that follows)."""
    last = ctx.uow.events.read_stream(transfer.id, after_version=transfer.version - 1)
    return transfer, last[-1].event_id if last else None


def _as_is(_ctx: CommandContext, transfer: Transfer) -> Transfer:
    return transfer


def _noting_appended(
    step: AccountStep,
) -> Callable[[CommandContext, Transfer], tuple[TransferStep | None, str | None]]:
    """The account step, also returning the id of the event it appended (None if none)."""

    def handler(ctx: CommandContext, transfer: Transfer) -> tuple[TransferStep | None, str | None]:
        follow_up = step(ctx, transfer)
        appended = ctx.appended
        return follow_up, appended[-1].event_id if appended else None

    return handler
