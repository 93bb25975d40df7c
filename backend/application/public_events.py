"""Public events: the integration contract of the feed and the webhooks, mapped from the domain
events here and nowhere else.

A public event is `{id, type, subject_type, subject_id, occurred_at, data}` where `data` is the
subject (an Account or a Transfer) exactly as `GET` showed it right after the event. Internal
events are free to change: only this module knows both sides, and its test pins the mapping.
Saga steps that change nothing a client sees (TransferFundsHeld, TransferTargetCredited,
TransferCompensationStarted) move the subject's `updated_at` but publish nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from backend.application.event_codec import EventCodec, UnknownEventType
from backend.application.ports.event_feed import FeedEntry, Subject
from backend.application.ports.event_store import StoredEvent
from backend.domain.account import (
    Account,
    AccountClosed,
    AccountOpened,
    FundsHeld,
    HoldCaptured,
    HoldReleased,
    MoneyCredited,
    MoneyDeposited,
    MoneyWithdrawn,
)
from backend.domain.events import DomainEvent
from backend.domain.transfer import (
    Transfer,
    TransferCompleted,
    TransferFailed,
    TransferRequested,
)

#: The version of the public event shapes (types, envelope, `data`); a breaking change is v2.
PUBLIC_EVENTS_VERSION: Final = 1
ACCOUNT, TRANSFER, BATCH = "account", "transfer", "batch"
#: Every public type, by subject. Some belong to features still to come: see NOT_EMITTED_YET.
EVENT_TYPES: Final[dict[str, tuple[str, ...]]] = {
    ACCOUNT: (
        "account.opened",
        "account.deposited",
        "account.withdrawn",
        "account.limits_changed",
        "account.closed",
        "account.updated",
    ),
    TRANSFER: (
        "transfer.requested",
        "transfer.authorized",
        "transfer.completed",
        "transfer.failed",
    ),
    BATCH: ("batch.completed",),
}
ALL_EVENT_TYPES: Final = tuple(t for types in EVENT_TYPES.values() for t in types)
#: Part of the contract, published by nothing yet (spending limits, manual capture, batches).
NOT_EMITTED_YET: Final = frozenset(
    {"account.limits_changed", "transfer.authorized", "batch.completed"}
)
_NAMESPACE: Final = uuid.UUID("6f1c1d9e-5a53-4d8e-9f51-2a7c3c0e4b10")

#: The public type of each account event; any other account event is `account.updated`.
_ACCOUNT_TYPES: Final[dict[type[DomainEvent], str]] = {
    AccountOpened: "account.opened",
    MoneyDeposited: "account.deposited",
    MoneyWithdrawn: "account.withdrawn",
    AccountClosed: "account.closed",
    FundsHeld: "account.updated",
    HoldReleased: "account.updated",
    HoldCaptured: "account.updated",
    MoneyCredited: "account.updated",
}


def rfc3339(moment: datetime) -> str:
    """A timestamp as the API writes it: UTC with a `Z`."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def public_event_id(event_id: str) -> str:
    """The public id of the event stored as `event_id`: stable, and not the internal one."""
    return str(uuid.uuid5(_NAMESPACE, event_id))


@dataclass(frozen=True, slots=True)
class Published:
    """What one stored event publishes: the subject after it and, when public, who sees it."""

    subject: Subject
    type: str | None
    recipients: tuple[str, ...] = ()

    def entries(self, stored: StoredEvent) -> list[FeedEntry]:
        if self.type is None:
            return []
        subject = self.subject
        return [
            FeedEntry(
                user,
                stored.position,
                public_event_id(stored.event_id),
                self.type,
                subject.subject_type,
                subject.subject_id,
                stored.occurred_at,
                dict(subject.state),
            )
            for user in self.recipients
        ]


class PublicEventMapper:
    """Folds each subject's public state and says which public event a stored event is."""

    def __init__(self, codec: EventCodec) -> None:
        self._codec = codec

    def map(
        self,
        stored: StoredEvent,
        subject: Subject | None,
        owner_of: Callable[[str], str | None],
    ) -> Published | None:
        """The subject after `stored` and its public event; None for a stream type that has
        no public subject, or a subject whose first event was never seen."""
        try:
            event = self._codec.decode(stored.type, stored.schema_version, stored.data)
        except UnknownEventType:
            event = None
        if stored.stream_type == Account.STREAM_TYPE:
            return _account(stored, event, subject)
        if stored.stream_type == Transfer.STREAM_TYPE:
            return _transfer(stored, event, subject, owner_of)
        return None


def _account(
    stored: StoredEvent, event: DomainEvent | None, subject: Subject | None
) -> Published | None:
    if isinstance(event, AccountOpened):
        at = rfc3339(stored.occurred_at)
        state = {
            "id": stored.stream_id, "name": event.name, "currency": event.currency,
            "balance": 0, "available_balance": 0, "status": "open", "version": stored.version,
            "opened_at": at, "updated_at": at,
        }  # fmt: skip
        opened = Subject(stored.stream_id, ACCOUNT, event.owner_id, None, None, False, state)
        return Published(opened, "account.opened", (event.owner_id,))
    if subject is None:
        return None
    balance, held, status = _account_change(event, subject.state)
    state = {
        **subject.state, "balance": balance, "available_balance": balance - held,
        "status": status, "version": stored.version, "updated_at": rfc3339(stored.occurred_at),
    }  # fmt: skip
    kind = _ACCOUNT_TYPES.get(type(event), "account.updated") if event else "account.updated"
    return Published(replace(subject, state=state), kind, (subject.owner_id,))


def _account_change(event: DomainEvent | None, state: dict[str, Any]) -> tuple[int, int, str]:
    """(balance, held, status) of an account after `event`."""
    balance, status = state["balance"], state["status"]
    held = balance - state["available_balance"]
    match event:
        case MoneyDeposited(amount=amount) | MoneyCredited(amount=amount):
            balance += amount
        case MoneyWithdrawn(amount=amount):
            balance -= amount
        case FundsHeld(amount=amount):
            held += amount
        case HoldReleased(amount=amount):
            held -= amount
        case HoldCaptured(amount=amount):
            balance, held = balance - amount, held - amount
        case AccountClosed():
            status = "closed"
    return balance, held, status


def _transfer(
    stored: StoredEvent,
    event: DomainEvent | None,
    subject: Subject | None,
    owner_of: Callable[[str], str | None],
) -> Published | None:
    at = rfc3339(stored.occurred_at)
    if isinstance(event, TransferRequested):
        state = {
            "id": stored.stream_id, "source_account_id": event.source_account_id,
            "target_account_id": event.target_account_id, "amount": event.amount,
            "currency": event.currency, "reference": event.reference, "status": "pending",
            "failure_reason": None, "created_at": at, "updated_at": at, "completed_at": None,
        }  # fmt: skip
        payer = event.requested_by
        requested = Subject(
            stored.stream_id, TRANSFER, payer, event.target_account_id, None, False, state
        )
        return Published(requested, "transfer.requested", (payer,))
    if subject is None:
        return None
    state = {**subject.state, "updated_at": at}
    kind: str | None = None
    visible = subject.visible_to_target
    match event:
        case TransferCompleted():
            state |= {"status": "completed", "completed_at": at}
            kind, visible = "transfer.completed", True
        case TransferFailed(reason=reason):
            state |= {"status": "failed", "failure_reason": reason}
            kind = "transfer.failed"
    payee = subject.target_owner_id
    if payee is None and visible and subject.target_account_id is not None:
        payee = owner_of(subject.target_account_id)
    after = replace(subject, state=state, visible_to_target=visible, target_owner_id=payee)
    recipients = [subject.owner_id]
    if visible and payee is not None and payee != subject.owner_id:
        recipients.append(payee)
    return Published(after, kind, tuple(recipients))
