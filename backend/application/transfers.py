"""Transfer use cases: requesting a transfer, and the process manager that runs its saga.

Each step is one transaction on one aggregate, one command through the CommandBus with the transfer
id as correlation id and the triggering event as causation id. Steps are idempotent: a step
delivered twice (or late, or out of order) finds the work done and changes nothing, or advances
the transfer from what the account already shows.

`TransferProcess.drive` chains the steps: the transfer's first message runs its whole saga in
one job, and every later message of it drives it on from wherever a crash left it (a no-op
once it ended).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from backend.application import transfer_steps as steps
from backend.application.accounts import load_owned
from backend.application.bounded import RecentValues
from backend.application.command_bus import CommandBus, CommandContext
from backend.application.commands import (
    CaptureHold,
    CreditTarget,
    PlaceHold,
    ReadTransfer,
    RecordTransferStep,
    ReleaseHold,
    RequestTransfer,
    SagaAccountStep,
    StepOutcome,
    TransferStep,
)
from backend.application.errors import NotFound
from backend.application.ports.event_store import EventMetadata
from backend.application.projections.transfers import requested
from backend.application.read_models import TransferSummary
from backend.domain.money import Money
from backend.domain.transfer import Transfer, TransferRequested, TransferStage

#: How long a transfer may stay pending before the sweeper fails it (HEXBANK_TRANSFER_TIMEOUT
#: overrides it).
DEFAULT_TRANSFER_TIMEOUT: Final[timedelta] = timedelta(seconds=60)

_TERMINAL: Final = (TransferStage.COMPLETED, TransferStage.FAILED)
#: The longest paths take three stages (hold, credit, capture; or hold, refused credit,
#: release), each a step and its record; the rest is slack for stages another worker took.
_MAX_DRIVE_STEPS: Final = 8
#: How many ended transfers a process remembers.
ENDED_REMEMBERED: Final = 10_000
#: The account step of each stage a transfer can be driven on from.
_STAGE_STEPS: Final[dict[TransferStage, type[SagaAccountStep]]] = {
    TransferStage.REQUESTED: PlaceHold,
    TransferStage.FUNDS_HELD: CreditTarget,
    TransferStage.TARGET_CREDITED: CaptureHold,
    TransferStage.COMPENSATING: ReleaseHold,
}


def request_transfer(
    command: RequestTransfer, ctx: CommandContext, timeout: timedelta = DEFAULT_TRANSFER_TIMEOUT
) -> TransferSummary:
    """Accept a transfer out of the caller's account, the saga decides the rest; the pending
    transfer, built as the read model builds its row."""
    source = load_owned(ctx, command.source_account_id, command.owner_id, cached=False)
    money = Money.positive(command.amount, source.currency)
    transfer = Transfer.request(
        ctx.ids.new_id(), source.id, command.target_account_id, money, command.reference,
        command.owner_id, ctx.clock.now(), timeout,
    )  # fmt: skip
    event = transfer.pending_events[0]
    # Every event of the saga shares the transfer id as correlation id, from the first on.
    metadata = dataclasses.replace(ctx.metadata, correlation_id=transfer.id)
    stored = ctx.transfers.save(transfer, metadata)[0]
    assert isinstance(event, TransferRequested)  # noqa: S101 - what Transfer.request records
    target = ctx.uow.read_models.account_summaries([command.target_account_id])
    owner = target[command.target_account_id].owner_id if target else None
    return requested(event, stored, owner)


class AccountStepHandler:
    """An account step of the saga for the transfer its command names: what the transfer
    should record next, and the id of the event the step appended (None if none)."""

    def __init__(self, step: steps.AccountStep) -> None:
        self._step = step

    def __call__(self, command: SagaAccountStep, ctx: CommandContext) -> StepOutcome:
        follow_up = self._step(ctx, steps.transfer_of(ctx, command.transfer_id))
        appended = ctx.appended
        return follow_up, appended[-1].event_id if appended else None


def read_transfer(command: ReadTransfer, ctx: CommandContext) -> tuple[Transfer, str | None]:
    """The transfer, and the cause of the step that follows: the command's, else the id of
    the transfer's latest event."""
    transfer = steps.transfer_of(ctx, command.transfer_id)
    if command.cause is not None:
        return transfer, command.cause
    last = ctx.uow.events.read_stream(transfer.id, after_version=transfer.version - 1)
    return transfer, last[-1].event_id if last else None


def record_transfer_step(
    command: RecordTransferStep, ctx: CommandContext
) -> tuple[Transfer, str | None]:
    """One change of the transfer: the transfer after it, and the event it recorded (else the
    command's cause)."""
    transfer = steps.transfer_of(ctx, command.transfer_id)
    if command.step(transfer, ctx.clock.now()):
        stored = ctx.transfers.save(transfer, ctx.metadata)
        return transfer, stored[-1].event_id if stored else command.cause
    return transfer, command.cause


@dataclass
class TransferProcess:
    """The process manager of the transfer saga: each step one command through the bus."""

    bus: CommandBus
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
            transfer, cause = self._read(transfer_id, cause)
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
            self._account_step(ReleaseHold(transfer_id), cause)

    def _drive_stage(self, transfer: Transfer, cause: str | None) -> tuple[Transfer, str | None]:
        """The account step of the transfer's stage, then its record on the transfer (one
        transaction each); the transfer as it is now, and the cause of the next step."""
        stage = transfer.stage
        step = _STAGE_STEPS[stage](transfer.id)
        follow_up, done = self.bus.execute(step, _metadata(transfer.id, cause))
        if done is not None:  # the account changed just now: record it without its message
            follow_up, cause = steps.RECORDS[stage], done
        if follow_up is None:  # nothing to do at this stage: another worker moved it on
            return self._read(transfer.id, cause)
        return self._record(transfer.id, cause, follow_up)

    # -- plumbing ---------------------------------------------------------------------------

    def _account_step(self, command: SagaAccountStep, cause: str | None) -> None:
        """One transaction on an account; then, if it says so, one on the transfer.

        A catch-up (the account already shows the step done) is left to `drive`, which the
        account event's message runs: a redelivered message changes nothing.
        """
        follow_up, _ = self.bus.execute(command, _metadata(command.transfer_id, cause))
        if follow_up is not None and follow_up not in steps.CATCH_UPS:
            self._record(command.transfer_id, cause, follow_up)

    def _record(
        self, transfer_id: str, cause: str | None, step: TransferStep
    ) -> tuple[Transfer, str | None]:
        command = RecordTransferStep(transfer_id, step, cause)
        return self.bus.execute(command, _metadata(transfer_id, cause))

    def _read(self, transfer_id: str, cause: str | None) -> tuple[Transfer, str | None]:
        return self.bus.execute(ReadTransfer(transfer_id, cause), _metadata(transfer_id, cause))


def _metadata(transfer_id: str, cause: str | None) -> EventMetadata:
    """Every step's events: the transfer id as correlation id, the triggering event as cause."""
    return EventMetadata(correlation_id=transfer_id, causation_id=cause)
