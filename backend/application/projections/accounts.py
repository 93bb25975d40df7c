"""The accounts projection: account summaries, their transactions and their daily totals.

The three read models share one projection and one checkpoint because the summary's version
guard decides, for all three at once, whether an event is new: a transaction's balance_after
and a day's closing balance are the summary's balance right after that event.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.application.event_codec import EventCodec
from backend.application.ports.event_store import EventStore, StoredEvent
from backend.application.ports.read_models import ReadModelStore
from backend.application.projections.base import of_stream_type, unseen
from backend.application.projections.daily_totals import (
    DayRows,
    daily_after,
    daily_totals_after,
    utc_day,
)
from backend.application.projections.transactions import transaction_for
from backend.application.read_models import (
    AccountAdvance,
    AccountChanges,
    AccountSummary,
    DailyTotal,
    DayKey,
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


def changes_of(event: DomainEvent) -> tuple[int, int, bool]:
    """What an Account event does to its summary: (balance change, held change, closes)."""
    match event:
        case MoneyDeposited(amount=amount) | MoneyCredited(amount=amount):
            return amount, 0, False
        case MoneyWithdrawn(amount=amount):
            return -amount, 0, False
        case FundsHeld(amount=amount):
            return 0, amount, False
        case HoldReleased(amount=amount):
            return 0, -amount, False
        case HoldCaptured(amount=amount):
            return -amount, -amount, False
        case AccountClosed():
            return 0, 0, True
    return 0, 0, False


def summary_after(
    summary: AccountSummary, event: DomainEvent, stored: StoredEvent
) -> AccountSummary:
    """The summary once `event` (the next of its stream) is applied."""
    balance, held, closes = changes_of(event)
    # Built directly rather than with dataclasses.replace: this runs for every event replayed.
    return AccountSummary(
        summary.account_id, summary.owner_id, summary.name, summary.currency,
        summary.balance + balance, summary.held + held, "closed" if closes else summary.status,
        stored.version, summary.opened_position, summary.opened_at, stored.occurred_at,
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

    def apply_appended(
        self, events: Sequence[StoredEvent], store: ReadModelStore, history: EventStore
    ) -> None:
        """The inline projector's path for a command's own events: when they continue one
        account's stream, the rows are advanced without being read; otherwise, or when the
        summary is not where the events start, the rows are folded as by `apply`."""
        mine = of_stream_type(events, Account.STREAM_TYPE)
        if not mine:
            return
        advance = self._advance(mine)
        if advance is None or not store.advance_account(advance):
            self.apply(mine, store, history)

    def _advance(self, mine: Sequence[StoredEvent]) -> AccountAdvance | None:
        first = mine[0]
        account_id, from_version = first.stream_id, first.version - 1
        balance = held = 0
        closes = False
        moves: list[tuple[TransactionRow, int, int]] = []  # (row, version, balance so far)
        for offset, stored in enumerate(mine):
            if stored.stream_id != account_id or stored.version != first.version + offset:
                return None
            event = self._codec.decode(stored.type, stored.schema_version, stored.data)
            if isinstance(event, AccountOpened):  # a new summary: nothing to advance from
                return None
            balance_change, held_change, closing = changes_of(event)
            balance, held, closes = balance + balance_change, held + held_change, closes or closing
            move = transaction_for(event, stored, 0)
            if move is not None:
                moves.append((move, stored.version, balance))
        # A row's balance is the new balance minus the changes of the events after it.
        transactions = [(move, balance - so_far) for move, _, so_far in moves]
        days: dict[DayKey, tuple[DailyTotal, int]] = {}
        for move, version, so_far in moves:
            key = (account_id, utc_day(move.occurred_at))
            day = days.get(key, (None, 0))[0]
            days[key] = (daily_after(day, move, version), balance - so_far)
        last = mine[-1]
        return AccountAdvance(
            account_id, from_version, last.version, balance, held, closes, last.occurred_at,
            transactions, list(days.values()),
        )  # fmt: skip


def _next(
    summary: AccountSummary | None, event: DomainEvent, stored: StoredEvent
) -> AccountSummary:
    if isinstance(event, AccountOpened):
        return opened(event, stored)
    if summary is None:
        raise LookupError(f"{stored.type} of {stored.stream_id} before AccountOpened")
    return summary_after(summary, event, stored)
