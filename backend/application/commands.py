"""Commands: what a caller asks the application to do, in the imperative.

Each command type has exactly one handler (backend/application/handlers.py) and names itself in
logs and metrics by its class name. `Command[R]` says what its handler returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from backend.application.ports.event_feed import Delivery, Webhook
from backend.application.queries import TransactionView
from backend.application.read_models import TransferSummary
from backend.domain.account import Account
from backend.domain.transfer import Transfer

R = TypeVar("R", covariant=True)


class Command(Generic[R]):
    """Base of every command; R is what its handler returns."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class OpenAccount(Command[Account]):
    owner_id: str
    name: str
    currency: str


@dataclass(frozen=True, slots=True)
class Deposit(Command[TransactionView]):
    owner_id: str
    account_id: str
    amount: int
    reference: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class Withdraw(Command[TransactionView]):
    owner_id: str
    account_id: str
    amount: int
    reference: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class CloseAccount(Command[Account]):
    owner_id: str
    account_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class RequestTransfer(Command[TransferSummary]):
    owner_id: str
    source_account_id: str
    target_account_id: str
    amount: int
    reference: str | None = None


#: A change of the transfer itself, recorded in its own transaction after an account step.
TransferStep = Callable[[Transfer, datetime], bool]


# -- the transfer saga's transactions (run by TransferProcess) ------------------------------


@dataclass(frozen=True, slots=True)
class ReadTransfer(Command[tuple[Transfer, str | None]]):
    """The transfer as it stands, and the cause of its next step: `cause`, else the id of
    the transfer's latest event."""

    transfer_id: str
    cause: str | None = None


#: An account step's answer: what the transfer should record next (if anything), and the id
#: of the event the step appended (None when it appended nothing).
StepOutcome = tuple[TransferStep | None, str | None]


@dataclass(frozen=True, slots=True)
class SagaAccountStep(Command[StepOutcome]):
    """Base of the saga's account steps: each names the transfer it works for."""

    transfer_id: str


class PlaceHold(SagaAccountStep):
    """Requested: hold the money on the source (or time out when already too late)."""

    __slots__ = ()


class CreditTarget(SagaAccountStep):
    """Funds held: credit the target, or compensate on refusal."""

    __slots__ = ()


class CaptureHold(SagaAccountStep):
    """Target credited: the held money leaves the source."""

    __slots__ = ()


class ReleaseHold(SagaAccountStep):
    """Compensating: give the hold back (or fail at once when there is none)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class RecordTransferStep(Command[tuple[Transfer, str | None]]):
    """Record on the transfer what an account step did; returns the transfer and the id of
    the event recorded (else `cause`)."""

    transfer_id: str
    step: TransferStep
    cause: str | None


# --- webhooks (backend/application/webhooks.py) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateWebhook(Command[Webhook]):
    owner_id: str
    url: str
    event_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeleteWebhook(Command[None]):
    owner_id: str
    webhook_id: str


@dataclass(frozen=True, slots=True)
class RetryDelivery(Command[Delivery]):
    owner_id: str
    webhook_id: str
    delivery_id: str
