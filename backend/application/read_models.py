"""Read-model rows and the ports that store them (written by projections, read by queries).

Every row that folds a stream carries the stream version it reflects. Writers keep the row
with the higher version (a guarded upsert), so the inline projector, the followers and a
rebuild may all write the same row, in any order, without counting anything twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from backend.application.ports import StoredEvent

#: Key of a daily-totals row: (account id, day).
DayKey = tuple[str, date]


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """Everything the Account resource shows, at stream `version`."""

    account_id: str
    owner_id: str
    name: str
    currency: str
    balance: int
    held: int
    status: str
    version: int
    opened_position: int
    opened_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionRow:
    """A money movement of one account; its id is the event id, `position` the stable key."""

    transaction_id: str
    account_id: str
    position: int
    kind: str
    amount: int
    currency: str
    balance_after: int
    reference: str | None
    transfer_id: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class DailyTotal:
    """Money in and out of one account on one UTC day, as of account stream `version`."""

    account_id: str
    day: date
    deposits: int
    withdrawals: int
    transfers_in: int
    transfers_out: int
    closing_balance: int
    version: int


@dataclass(frozen=True, slots=True)
class TransferSummary:
    """A transfer as the API shows it, at transfer stream `version`."""

    transfer_id: str
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
    version: int
    created_position: int


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """What the accounts projection writes for one batch of events, saved together."""

    summaries: Sequence[AccountSummary]
    transactions: Sequence[TransactionRow]
    daily_totals: Sequence[DailyTotal]


class CheckpointStore(Protocol):
    """The last global position each projection applied."""

    def position(self, name: str) -> int:
        """The checkpoint (0 when none), locked until the transaction ends where supported,
        so that followers and a rebuild's swap of the same projection serialise."""
        ...

    def save(self, name: str, position: int) -> None: ...


class ReadModelStore(Protocol):
    """Read-model writes inside a unit of work; loads see the transaction's own writes."""

    @property
    def checkpoints(self) -> CheckpointStore: ...

    def account_summaries(self, account_ids: Collection[str]) -> dict[str, AccountSummary]: ...

    def daily_totals(self, keys: Collection[DayKey]) -> dict[DayKey, DailyTotal]: ...

    def account_rows(
        self, account_ids: Collection[str], days: Collection[DayKey]
    ) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
        """`account_summaries(account_ids)` and, of `daily_totals(days)`, the rows of those
        accounts: in one read where the store can."""
        ...

    def transfers(self, transfer_ids: Collection[str]) -> dict[str, TransferSummary]: ...

    def save_transfers(self, rows: Sequence[TransferSummary]) -> None:
        """Upsert, keeping whichever of the stored and the new row has the higher version."""
        ...

    def save_account_changes(self, changes: AccountChanges) -> None:
        """Write the accounts projection's rows at once, in one round trip where the store can
        (every command that touches an account pays for this write): summaries and day rows
        are upserts keeping whichever of the stored and the new row has the higher version;
        a transaction id already stored is left as it is."""
        ...


def account_rows_apart(
    store: ReadModelStore, account_ids: Collection[str], days: Collection[DayKey]
) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
    """`ReadModelStore.account_rows` as the store's two reads, for stores that have no cheaper
    combined one."""
    ids = set(account_ids)
    return store.account_summaries(ids), store.daily_totals([k for k in days if k[0] in ids])


class ReadModelReader(Protocol):
    """What queries read: read models, checkpoints, and single streams for `as_of` and events.

    It may sit on a replica, so it may lag the primary by a little."""

    def account(self, account_id: str) -> AccountSummary | None: ...

    def accounts_of(
        self, owner_id: str, after_position: int | None, limit: int
    ) -> list[AccountSummary]:
        """The owner's accounts opened after `after_position`, oldest first."""
        ...

    def transactions_of(
        self, account_id: str, before_position: int | None, limit: int
    ) -> list[TransactionRow]:
        """The account's transactions before `before_position`, newest first."""
        ...

    def daily_totals_of(self, account_id: str) -> list[DailyTotal]:
        """Every day with activity on the account, oldest first."""
        ...

    def transfer(self, transfer_id: str) -> TransferSummary | None: ...

    def transfers_visible_to(
        self,
        viewer_id: str,
        account_id: str | None,
        status: str | None,
        before_position: int | None,
        limit: int,
    ) -> list[TransferSummary]:
        """Transfers touching an account of `viewer_id` (optionally one account, one status),
        created before `before_position`, newest first."""
        ...

    def stream(self, stream_id: str, after_version: int, limit: int) -> list[StoredEvent]:
        """Events of one stream after `after_version`, oldest first."""
        ...

    def checkpoint(self, name: str) -> int: ...

    def head_position(self) -> int: ...
