"""The accounts projection: account summaries, their transactions and their daily totals.

The three read models share one projection and one checkpoint because the summary's version
guard decides, for all three at once, whether an event is new: a transaction's balance_after
and a day's closing balance are the summary's balance right after that event.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.application.event_codec import EventCodec
from backend.application.ports import EventStore, StoredEvent
from backend.application.projections.base import of_stream_type, unseen
from backend.application.projections.daily_totals import DayRows, daily_totals_after, utc_day
from backend.application.projections.transactions import transaction_for
from backend.application.read_models import (
    AccountChanges,
    AccountSummary,
    ReadModelStore,
    TransactionRow,
)
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

NAME = "accounts"


def opened(event: AccountOpened, stored: StoredEvent) -> AccountSummary:
    """The summary of a just-opened account."""
    at = stored.occurred_at
    return AccountSummary(
        stored.stream_id, event.owner_id, event.name, event.currency, 0, 0, "open",
        stored.version, stored.position, at, at,
    )  # fmt: skip


def summary_after(
    summary: AccountSummary, event: DomainEvent, stored: StoredEvent
) -> AccountSummary:
    """The summary once `event` (the next of its stream) is applied."""
    balance, held, status = summary.balance, summary.held, summary.status
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
    # Built directly rather than with dataclasses.replace: this runs for every event replayed.
    return AccountSummary(
        summary.account_id, summary.owner_id, summary.name, summary.currency, balance, held,
        status, stored.version, summary.opened_position, summary.opened_at, stored.occurred_at,
    )  # fmt: skip


class AccountsProjection:
    """Summaries, transactions and daily totals of accounts, from Account events."""

    name = NAME

    def __init__(self, codec: EventCodec) -> None:
        self._codec = codec

    def apply(
        self, events: Sequence[StoredEvent], store: ReadModelStore, history: EventStore
    ) -> None:
        mine = of_stream_type(events, Account.STREAM_TYPE)
        if not mine:
            return
        # The days of every event, read with the summaries: a superset of the days they move.
        days = frozenset((event.stream_id, utc_day(event.occurred_at)) for event in mine)
        summaries, totals = store.account_rows({event.stream_id for event in mine}, days)
        versions = {key: summary.version for key, summary in summaries.items()}
        changed: dict[str, AccountSummary] = {}
        moves: list[tuple[TransactionRow, int]] = []
        for stored in unseen(mine, versions, history):
            event = self._codec.decode(stored.type, stored.schema_version, stored.data)
            summary = _next(summaries.get(stored.stream_id), event, stored)
            summaries[stored.stream_id] = changed[stored.stream_id] = summary
            move = transaction_for(event, stored, summary.balance)
            if move is not None:
                moves.append((move, stored.version))
        transactions = [move for move, _ in moves]
        changed_days = daily_totals_after(moves, DayRows(days, totals), store)
        store.save_account_changes(
            AccountChanges(list(changed.values()), transactions, changed_days)
        )


def _next(
    summary: AccountSummary | None, event: DomainEvent, stored: StoredEvent
) -> AccountSummary:
    if isinstance(event, AccountOpened):
        return opened(event, stored)
    if summary is None:
        raise LookupError(f"{stored.type} of {stored.stream_id} before AccountOpened")
    return summary_after(summary, event, stored)
