"""Query services the API calls: accounts, their history and transfers, from the read side.

Everything but `account_as_of` and `events` reads the read models; those two read the
account's own event stream. Unknown and not-owned resources are both NotFound.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from backend.application.errors import NotFound
from backend.application.event_codec import EventCodec, default_codec
from backend.application.pagination import DEFAULT_LIMIT, Page, decode_cursor, page_of
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.read_models import ReadModelReader
from backend.application.read_models import (
    AccountSummary,
    DailyTotal,
    TransactionRow,
    TransferSummary,
)
from backend.domain.account import Account

__all__ = [
    "AccountQueries",
    "AccountView",
    "DailyTotalView",
    "EventView",
    "Page",
    "TransactionView",
    "TransferQueries",
    "TransferView",
    "account_view",
    "transfer_view",
]

#: Events folded per read when answering `as_of`.
FOLD_PAGE: Final[int] = 1000


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as the API shows it; available = balance - funds on hold."""

    id: str
    owner_id: str
    name: str
    currency: str
    balance: int
    available_balance: int
    status: str
    version: int
    opened_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionView:
    """A money movement; its id is the id of the event that moved the money."""

    id: str
    account_id: str
    kind: str
    amount: int
    currency: str
    balance_after: int
    reference: str | None
    transfer_id: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class EventView:
    """One event of an account's stream, its data lifted to the current schema version; its
    hash is the chain's over the event as stored (before upcasting)."""

    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    occurred_at: datetime
    correlation_id: str | None
    hash: str


@dataclass(frozen=True, slots=True)
class TransferView:
    """A transfer as the API shows it, with the owners who may see it."""

    id: str
    source_account_id: str
    target_account_id: str
    amount: int
    currency: str
    reference: str | None
    status: str
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    source_owner_id: str
    target_owner_id: str | None


@dataclass(frozen=True, slots=True)
class DailyTotalView:
    """Money in and out of an account on one UTC day, and its balance at the end."""

    day: date
    deposits: int
    withdrawals: int
    transfers_in: int
    transfers_out: int
    closing_balance: int


class AccountQueries:
    """An owner's accounts, their transactions, events, daily totals and past states."""

    def __init__(self, reader: ReadModelReader, codec: EventCodec | None = None) -> None:
        self._reader = reader
        self._codec = codec or default_codec()

    def account(self, owner_id: str, account_id: str) -> AccountView:
        return _account_view(self._owned(owner_id, account_id))

    def accounts(
        self, owner_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AccountView]:
        """Oldest first, keyed by the position of AccountOpened."""
        after = decode_cursor(cursor, "accounts")
        rows = self._reader.accounts_of(owner_id, after, limit + 1)
        items, next_cursor = page_of(rows, limit, "accounts", lambda r: r.opened_position)
        return Page([_account_view(row) for row in items], next_cursor)

    def transactions(
        self, owner_id: str, account_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[TransactionView]:
        """Newest first, keyed by global position: new rows never shift a later page."""
        before = decode_cursor(cursor, "transactions")
        self._owned(owner_id, account_id)
        rows = self._reader.transactions_of(account_id, before, limit + 1)
        items, next_cursor = page_of(rows, limit, "transactions", lambda r: r.position)
        return Page([_transaction_view(row) for row in items], next_cursor)

    def events(
        self, owner_id: str, account_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[EventView]:
        """The account's own stream, oldest first, keyed by stream version."""
        after = decode_cursor(cursor, "events") or 0
        self._owned(owner_id, account_id)
        rows = self._reader.stream(account_id, after, limit + 1)
        items, next_cursor = page_of(rows, limit, "events", lambda e: e.version)
        return Page([self._event_view(event) for event in items], next_cursor)

    def account_as_of(self, owner_id: str, account_id: str, as_of: datetime) -> AccountView:
        """The account as it stood at `as_of`, folded from its events (not the read model).

        Ownership (and that the id names an account at all) is checked on the read model
        first, so a stranger's id or a transfer's costs what an unknown id does; the fold then
        starts from the latest snapshot taken at or before `as_of`."""
        summary = self._owned(owner_id, account_id)
        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        account, updated_at = self._start_of_fold(account_id, moment)
        for stored in self._stream_until(account_id, account.version, moment):
            account.replay([self._codec.decode(stored.type, stored.schema_version, stored.data)])
            updated_at = stored.occurred_at
        if account.version == 0 or updated_at is None:
            raise NotFound(f"account {account_id}")  # it did not exist yet
        return AccountView(
            account.id, account.owner_id, account.name, account.currency, account.balance,
            account.available, account.status, account.version, summary.opened_at, updated_at,
        )  # fmt: skip

    def daily_totals(self, owner_id: str, account_id: str) -> list[DailyTotalView]:
        """Every day with money movements, oldest first (the data behind the balance chart)."""
        self._owned(owner_id, account_id)
        return [_daily_view(row) for row in self._reader.daily_totals_of(account_id)]

    def _owned(self, owner_id: str, account_id: str) -> AccountSummary:
        summary = self._reader.account(account_id)
        if summary is None or summary.owner_id != owner_id:
            raise NotFound(f"account {account_id}")
        return summary

    def _start_of_fold(self, account_id: str, moment: datetime) -> tuple[Account, datetime | None]:
        """The account from the latest usable snapshot at or before `moment` (else empty),
        with the time of the last event it holds."""
        found = self._reader.snapshot_before(account_id, moment)
        if found is not None:
            snapshot, taken_at = found
            if (snapshot.stream_type, snapshot.state_version) == (
                Account.STREAM_TYPE, Account.STATE_VERSION,
            ):  # fmt: skip
                return Account.from_snapshot(account_id, snapshot.version, snapshot.state), taken_at
        return Account(account_id), None

    def _stream_until(self, account_id: str, after: int, moment: datetime) -> Iterator[StoredEvent]:
        while page := self._reader.stream(account_id, after, FOLD_PAGE):
            for stored in page:
                if stored.occurred_at > moment:
                    return
                yield stored
            if len(page) < FOLD_PAGE:
                return  # the stream's end: no need to ask again
            after = page[-1].version

    def _event_view(self, event: StoredEvent) -> EventView:
        data = self._codec.upcast(event.type, event.schema_version, event.data)
        return EventView(
            event.version,
            event.type,
            self._codec.current_version(event.type),
            data,
            event.occurred_at,
            event.metadata.correlation_id,
            event.hash,
        )


class TransferQueries:
    """Transfers, visible to the owners of the source and of the target account."""

    def __init__(self, reader: ReadModelReader) -> None:
        self._reader = reader

    def transfer(self, viewer_id: str, transfer_id: str) -> TransferView:
        row = self._reader.transfer(transfer_id)
        if row is None or viewer_id not in (row.source_owner_id, row.target_owner_id):
            raise NotFound(f"transfer {transfer_id}")
        return _transfer_view(row)

    def transfers(
        self,
        viewer_id: str,
        account_id: str | None = None,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[TransferView]:
        """Newest first, keyed by the position of TransferRequested; `account_id` must be
        the viewer's own account (else NotFound, as on every account endpoint)."""
        before = decode_cursor(cursor, "transfers")
        if account_id is not None:
            summary = self._reader.account(account_id)
            if summary is None or summary.owner_id != viewer_id:
                raise NotFound(f"account {account_id}")
        rows = self._reader.transfers_visible_to(viewer_id, account_id, status, before, limit + 1)
        items, next_cursor = page_of(rows, limit, "transfers", lambda r: r.created_position)
        return Page([_transfer_view(row) for row in items], next_cursor)


def _account_view(row: AccountSummary) -> AccountView:
    return AccountView(
        row.account_id, row.owner_id, row.name, row.currency, row.balance,
        row.balance - row.held, row.status, row.version, row.opened_at, row.updated_at,
    )  # fmt: skip


def _transaction_view(row: TransactionRow) -> TransactionView:
    return TransactionView(
        row.transaction_id, row.account_id, row.kind, row.amount, row.currency,
        row.balance_after, row.reference, row.transfer_id, row.occurred_at,
    )  # fmt: skip


def _transfer_view(row: TransferSummary) -> TransferView:
    return TransferView(
        row.transfer_id, row.source_account_id, row.target_account_id, row.amount, row.currency,
        row.reference, row.status, row.failure_reason, row.created_at, row.updated_at,
        row.completed_at, row.source_owner_id, row.target_owner_id,
    )  # fmt: skip


def _daily_view(row: DailyTotal) -> DailyTotalView:
    return DailyTotalView(
        row.day, row.deposits, row.withdrawals, row.transfers_in, row.transfers_out,
        row.closing_balance,
    )  # fmt: skip


def account_view(row: AccountSummary) -> AccountView:
    """The API's view of an account row, with no owner check: for internal readers that
    address the owner themselves (the push notifier)."""
    return _account_view(row)


def transfer_view(row: TransferSummary) -> TransferView:
    """The API's view of a transfer row, with no viewer check (see `account_view`)."""
    return _transfer_view(row)
