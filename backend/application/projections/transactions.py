"""Transactions: the money movements of an account, one row per moving event."""

from __future__ import annotations

from typing import Final

from backend.application.ports.event_store import StoredEvent
from backend.application.read_models import TransactionRow
from backend.domain.account import HoldCaptured, MoneyCredited, MoneyDeposited, MoneyWithdrawn
from backend.domain.events import DomainEvent

DEPOSIT: Final = "deposit"
WITHDRAWAL: Final = "withdrawal"
TRANSFER_IN: Final = "transfer_in"
TRANSFER_OUT: Final = "transfer_out"


def transaction_for(
    event: DomainEvent, stored: StoredEvent, balance_after: int
) -> TransactionRow | None:
    """The transaction an event records (its id is the event id), or None for holds etc."""
    match event:
        case MoneyDeposited():
            kind, transfer_id = DEPOSIT, None
        case MoneyWithdrawn():
            kind, transfer_id = WITHDRAWAL, None
        case HoldCaptured(transfer_id=transfer):
            kind, transfer_id = TRANSFER_OUT, transfer
        case MoneyCredited(transfer_id=transfer):
            kind, transfer_id = TRANSFER_IN, transfer
        case _:
            return None
    return TransactionRow(
        stored.event_id, stored.stream_id, stored.position, kind, event.amount, event.currency,
        balance_after, event.reference, transfer_id, stored.occurred_at,
    )  # fmt: skip
