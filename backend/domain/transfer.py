"""The Transfer process: an event-sourced saga that moves money between two accounts.

Steps: hold on the source -> credit the target -> capture the hold -> completed; a refused
credit, or the deadline passing before the hold, compensates (the hold is released) and fails.
The transfer owns this state machine: `next_step(now)` says what it needs next from its stage
and the clock, and the transfer engine (application) applies it, each step's account change
and its record here in one transaction. The transfer is the arbiter of its deadline: crediting
the target is allowed only after `hold_placed` recorded `TransferFundsHeld` before the deadline.
That record is the point of no return, so no late step can credit the target of a transfer
that timed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final, Self

from backend.domain import errors
from backend.domain.aggregate import Aggregate
from backend.domain.events import DomainEvent
from backend.domain.money import Money


class FailureReason(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    SOURCE_ACCOUNT_CLOSED = "source_account_closed"
    TARGET_ACCOUNT_NOT_FOUND = "target_account_not_found"
    TARGET_ACCOUNT_CLOSED = "target_account_closed"
    CURRENCY_MISMATCH = "currency_mismatch"
    TIMED_OUT = "timed_out"


class Step(StrEnum):
    """What a pending transfer needs done next (`Transfer.next_step`)."""

    HOLD = "hold"
    CREDIT = "credit"
    CAPTURE = "capture"
    RELEASE = "release"
    TIME_OUT = "time_out"


class TransferStage(StrEnum):
    """Where the saga stands; every stage but the last two shows as `pending`."""

    REQUESTED = "requested"
    FUNDS_HELD = "funds_held"
    TARGET_CREDITED = "target_credited"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TransferRequested(DomainEvent):
    source_account_id: str
    target_account_id: str
    amount: int
    currency: str
    reference: str | None
    requested_by: str
    deadline: datetime


@dataclass(frozen=True, slots=True)
class TransferFundsHeld(DomainEvent):
    """The source holds the money before the deadline: the target is credited next."""


@dataclass(frozen=True, slots=True)
class TransferTargetCredited(DomainEvent):
    """The target received the money: the transfer can only go forward now."""


@dataclass(frozen=True, slots=True)
class TransferCompleted(DomainEvent):
    """The source's hold was captured: the money moved."""


@dataclass(frozen=True, slots=True)
class TransferCompensationStarted(DomainEvent):
    """The transfer will fail; any hold on the source is released first."""

    reason: str


@dataclass(frozen=True, slots=True)
class TransferFailed(DomainEvent):
    reason: str


TRANSFER_EVENTS: Final[tuple[type[DomainEvent], ...]] = (
    TransferRequested,
    TransferFundsHeld,
    TransferTargetCredited,
    TransferCompleted,
    TransferCompensationStarted,
    TransferFailed,
)
#: The events that end a transfer, one way or the other.
TRANSFER_ENDS: Final[tuple[type[DomainEvent], ...]] = (TransferCompleted, TransferFailed)


class Transfer(Aggregate):
    """A request to move money from one account to another, and its progress."""

    STREAM_TYPE: ClassVar[str] = "transfer"
    STATE_VERSION: ClassVar[int] = 1

    def __init__(self, transfer_id: str) -> None:
        super().__init__(transfer_id)
        self.source_account_id = ""
        self.target_account_id = ""
        self.money = Money(0, "EUR")
        self.reference: str | None = None
        self.requested_by = ""
        self.deadline = datetime.min
        self.stage = TransferStage.REQUESTED
        self.failure_reason: str | None = None

    @classmethod
    def request(
        cls,
        transfer_id: str,
        source_account_id: str,
        target_account_id: str,
        money: Money,
        reference: str | None,
        requested_by: str,
        now: datetime,
        timeout: timedelta,
    ) -> Transfer:
        if source_account_id == target_account_id:
            raise errors.SameAccount("source and target are the same account")
        money = Money.positive(money.amount, money.currency)
        transfer = cls(transfer_id)
        transfer._record(
            TransferRequested(
                source_account_id,
                target_account_id,
                money.amount,
                money.currency,
                reference,
                requested_by,
                now + timeout,
            )
        )
        return transfer

    # -- steps: each returns whether it recorded something ---------------------------------

    def hold_placed(self, now: datetime) -> bool:
        """The source holds the money: go on to the credit, or compensate if too late."""
        if self.stage is not TransferStage.REQUESTED:
            return False
        if now > self.deadline:
            self._record(TransferCompensationStarted(FailureReason.TIMED_OUT))
        else:
            self._record(TransferFundsHeld())
        return True

    def hold_refused(self, reason: FailureReason) -> bool:
        """The source could not hold the money: nothing to undo."""
        if self.stage is not TransferStage.REQUESTED:
            return False
        self._record(TransferFailed(reason))
        return True

    def time_out(self, now: datetime) -> bool:
        """Past its deadline and before the credit decision, the transfer compensates."""
        if self.stage is not TransferStage.REQUESTED or now <= self.deadline:
            return False
        self._record(TransferCompensationStarted(FailureReason.TIMED_OUT))
        return True

    def target_credited(self) -> bool:
        if self.stage is not TransferStage.FUNDS_HELD:
            return False
        self._record(TransferTargetCredited())
        return True

    def credit_refused(self, reason: FailureReason) -> bool:
        if self.stage is not TransferStage.FUNDS_HELD:
            return False
        self._record(TransferCompensationStarted(reason))
        return True

    def hold_captured(self) -> bool:
        if self.stage is not TransferStage.TARGET_CREDITED:
            return False
        self._record(TransferCompleted())
        return True

    def hold_released(self) -> bool:
        """The compensation finished (or had nothing to release): the transfer failed."""
        if self.stage is not TransferStage.COMPENSATING:
            return False
        self._record(TransferFailed(self.failure_reason or FailureReason.TIMED_OUT))
        return True

    # -- queries --------------------------------------------------------------------------

    def next_step(self, now: datetime) -> Step | None:
        """What this transfer needs next at `now`, None once it ended: the one place that
        decides the saga's order and its deadline (after the hold, the deadline is moot)."""
        match self.stage:
            case TransferStage.REQUESTED:
                return Step.TIME_OUT if now > self.deadline else Step.HOLD
            case TransferStage.FUNDS_HELD:
                return Step.CREDIT
            case TransferStage.TARGET_CREDITED:
                return Step.CAPTURE
            case TransferStage.COMPENSATING:
                return Step.RELEASE
        return None

    @property
    def status(self) -> str:
        """The public status: pending, completed or failed."""
        if self.stage in (TransferStage.COMPLETED, TransferStage.FAILED):
            return self.stage.value
        return "pending"

    @property
    def must_release_hold(self) -> bool:
        """A hold that shows up for a transfer already failing or failed must be given back."""
        return self.stage in (TransferStage.COMPENSATING, TransferStage.FAILED)

    # -- state ----------------------------------------------------------------------------

    def _apply(self, event: DomainEvent) -> None:
        match event:
            case TransferRequested():
                self.source_account_id = event.source_account_id
                self.target_account_id = event.target_account_id
                self.money = Money(event.amount, event.currency)
                self.reference, self.requested_by = event.reference, event.requested_by
                self.deadline = event.deadline
            case TransferFundsHeld():
                self.stage = TransferStage.FUNDS_HELD
            case TransferTargetCredited():
                self.stage = TransferStage.TARGET_CREDITED
            case TransferCompleted():
                self.stage = TransferStage.COMPLETED
            case TransferCompensationStarted(reason=reason):
                self.stage, self.failure_reason = TransferStage.COMPENSATING, reason
            case TransferFailed(reason=reason):
                self.stage, self.failure_reason = TransferStage.FAILED, reason
            case _:
                raise TypeError(f"Transfer cannot apply {type(event).__name__}")

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "source_account_id": self.source_account_id,
            "target_account_id": self.target_account_id,
            "amount": self.money.amount,
            "currency": self.money.currency,
            "reference": self.reference,
            "requested_by": self.requested_by,
            "deadline": self.deadline.isoformat(),
            "stage": self.stage.value,
            "failure_reason": self.failure_reason,
        }

    @classmethod
    def from_snapshot(cls, aggregate_id: str, version: int, state: dict[str, Any]) -> Self:
        transfer = cls(aggregate_id)
        transfer.version = version
        transfer.source_account_id = state["source_account_id"]
        transfer.target_account_id = state["target_account_id"]
        transfer.money = Money(state["amount"], state["currency"])
        transfer.reference, transfer.requested_by = state["reference"], state["requested_by"]
        transfer.deadline = datetime.fromisoformat(state["deadline"])
        transfer.stage = TransferStage(state["stage"])
        transfer.failure_reason = state["failure_reason"]
        return transfer
