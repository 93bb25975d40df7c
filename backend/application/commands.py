"""Commands: what a caller asks the application to do, in the imperative.

Each command type has exactly one handler (backend/application/handlers.py) and names itself in
logs and metrics by its class name. `Command[R]` says what its handler returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from backend.application.ports.event_feed import Delivery, Webhook
from backend.application.queries import TransactionView
from backend.application.read_models import TransferSummary
from backend.domain.account import Account

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


# -- the transfer engine's round ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Advanced:
    """What a round did to one transfer."""

    transfer_id: str
    #: The id of its latest event: the cause of its next step.
    cause: str | None
    #: Its public status after the round: pending, completed or failed.
    status: str
    reason: str | None
    #: Whether the round recorded a step on it (False: it had ended already).
    moved: bool
    #: The accounts the step changed.
    accounts: tuple[str, ...]
    #: When it was requested, if the round claimed it (the engine times its end by it).
    requested_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"


@dataclass(frozen=True, slots=True)
class AdvanceTransfers(Command[list[Advanced]]):
    """Each transfer (with the cause of its next step) takes its next `steps` steps, phase
    after phase, all in one transaction: one round of the transfer engine."""

    transfers: tuple[tuple[str, str | None], ...]
    steps: int = 1
    #: How many more ready transfers to claim in this transaction (and take as well).
    claim: int = 0


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
