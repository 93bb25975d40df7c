"""Transfer use cases: requesting a transfer, and the process manager that runs its saga.

Each step is one transaction on one aggregate, run through the CommandRunner with the transfer
id as correlation id and the triggering event as causation id. Steps are idempotent: a step
delivered twice (or late, or out of order) finds the work done and changes nothing, or advances
the transfer from what the account already shows.

`TransferProcess.drive` chains the steps: the transfer's first message runs its whole saga in
one job, and every later message of it drives it on from wherever a crash left it (a no-op
once it ended).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, TypeVar

from backend.application import transfer_steps as steps
from backend.application.accounts import load_owned
from backend.application.bounded import RecentValues
from backend.application.command_runner import CommandContext, CommandRunner
from backend.application.commands import RequestTransfer
from backend.application.errors import NotFound
from backend.application.ports.event_store import EventMetadata
from backend.application.transfer_steps import AccountStep, TransferStep
from backend.domain.money import Money
from backend.domain.transfer import Transfer, TransferStage

T = TypeVar("T")

#: How long a transfer may stay pending before the sweeper fails it (HEXBANK_TRANSFER_TIMEOUT
#: overrides it).
DEFAULT_TRANSFER_TIMEOUT: Final[timedelta] = timedelta(seconds=60)

_TERMINAL: Final = (TransferStage.COMPLETED, TransferStage.FAILED)
#: The longest paths take three stages (hold, credit, capture; or hold, refused credit,
#: release), each a step and its record; the rest is slack for stages another worker took.
_MAX_DRIVE_STEPS: Final = 8
#: How many ended transfers a process remembers.
ENDED_REMEMBERED: Final = 10_000


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


@dataclass
class TransferProcess:
    """The process manager of the transfer saga: drives a transfer through its steps."""

    runner: CommandRunner
    #: The transfers this process saw end, with their status. An end is final, so a late
    #: message of such a transfer needs not even a read.
    ended: RecentValues[str, str] = field(default_factory=lambda: RecentValues(ENDED_REMEMBERED))

    # -- the saga's entry point: every message of a transfer, and the sweeper ---------------

    def drive(self, transfer_id: str, cause: str | None = None) -> str | None:
        """Take every step the transfer can take now; returns its public status (None when no
        transfer has that id).

        TransferRequested runs the whole saga in its one job; any later message of the
        transfer (redelivered, or left by a job that died between two steps) goes on from
        wherever it stands, and the sweeper drives the overdue ones. A step that finds its work
        done on the account, or just did it, is recorded on the transfer at once, without
        waiting for the confirming message. On a transfer that
        ended it reads the transfer once and appends nothing; one this process saw end it
        does not read at all.

        `cause` is the triggering event (default: the transfer's latest); each later step is
        caused by the event the step before it appended.
        """
        if (ended := self.ended.get(transfer_id)) is not None:
            return ended
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
        if transfer.stage in _TERMINAL:
            self.ended.put(transfer_id, transfer.status)
        return transfer.status

    def funds_held(self, transfer_id: str, cause: str | None) -> None:
        """FundsHeld: drive the transfer on. A hold that shows up for a transfer that already
        failed (placed by a step that read it before it gave up) is given back."""
        if self.drive(transfer_id, cause) == "failed":
            self._account_step(transfer_id, cause, steps.release)

    def _drive_stage(self, transfer: Transfer, cause: str | None) -> tuple[Transfer, str | None]:
        """The account step of the transfer's stage, then its record on the transfer (one
        transaction each); the transfer as it is now, and the cause of the next step."""
        stage = transfer.stage
        follow_up, done = self._run(transfer.id, cause, _noting_appended(self._stage_step(stage)))
        if done is not None:  # the account changed just now: record it without its message
            follow_up, cause = steps.RECORDS[stage], done
        if follow_up is None:  # nothing to do at this stage: another worker moved it on
            return self._run(transfer.id, cause, _as_is), cause
        return self._advance(transfer.id, cause, follow_up)

    def _stage_step(self, stage: TransferStage) -> AccountStep:
        by_stage: dict[TransferStage, AccountStep] = {
            TransferStage.REQUESTED: steps.place_hold,
            TransferStage.FUNDS_HELD: steps.credit,
            TransferStage.TARGET_CREDITED: steps.capture,
            TransferStage.COMPENSATING: steps.release,
        }
        return by_stage[stage]

    # -- plumbing ---------------------------------------------------------------------------

    def _account_step(self, transfer_id: str, cause: str | None, step: AccountStep) -> None:
        """One transaction on an account; then, if it says so, one on the transfer.

        A catch-up (the account already shows the step done) is left to `drive`, which the
        account event's message runs: a redelivered message changes nothing.
        """
        follow_up = self._run(transfer_id, cause, step)
        if follow_up is not None and follow_up not in steps.CATCH_UPS:
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
        return self.runner.run(
            lambda ctx: handler(ctx, steps.transfer_of(ctx, transfer_id)), metadata
        )


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
