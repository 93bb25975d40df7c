"""Read-model rows and the ports that store them (written by projections, read by queries).

Every row that folds a stream carries the stream version it reflects. Writers keep the row
with the higher version (a guarded upsert), so the inline projector, the followers and a
rebuild may all write the same row, in any order, without counting anything twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from backend.application.ports import Snapshot, StoredEvent

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

    def plus(self, later: DailyTotal) -> DailyTotal:
        """This row with the sums of a later one of the same day added, at its closing
        balance and version."""
        return DailyTotal(
            self.account_id, self.day, self.deposits + later.deposits,
            self.withdrawals + later.withdrawals, self.transfers_in + later.transfers_in,
            self.transfers_out + later.transfers_out, later.closing_balance, later.version,
        )  # fmt: skip


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


@dataclass(frozen=True, slots=True)
class AccountAdvance:
    """A command's events on one account as changes to rows at `from_version`, written
    without reading the rows first (the inline projector's path, every command pays for it).

    Balances are relative: a row's balance is the summary's new balance minus its offset.
    """

    account_id: str
    from_version: int
    to_version: int
    balance_delta: int
    held_delta: int
    closes: bool
    updated_at: datetime
    #: Each transaction (its balance_after not yet known) with its balance offset.
    transactions: Sequence[tuple[TransactionRow, int]]
    #: Each day's sums to add, with its version; the closing balance's offset beside it.
    days: Sequence[tuple[DailyTotal, int]]

    def summary_after(self, summary: AccountSummary) -> AccountSummary:
        """`summary` (at `from_version`) once advanced."""
        return replace(
            summary,
            balance=summary.balance + self.balance_delta,
            held=summary.held + self.held_delta,
            status="closed" if self.closes else summary.status,
            version=self.to_version,
            updated_at=self.updated_at,
        )

    def transactions_at(self, balance: int) -> list[TransactionRow]:
        """The transactions, once the summary's new balance is known."""
        return [replace(row, balance_after=balance - offset) for row, offset in self.transactions]

    def day_increments_at(self, balance: int) -> list[DailyTotal]:
        """Each day's sums to add, with its closing balance, once the new balance is known."""
        return [replace(day, closing_balance=balance - offset) for day, offset in self.days]


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
        (the followers' write, and the inline projector's when it cannot advance): summaries
        and day rows are upserts keeping whichever of the stored and the new row has the
        higher version; a transaction id already stored is left as it is."""
        ...

    def advance_account(self, advance: AccountAdvance) -> bool:
        """If the account's summary is at `advance.from_version`: move it to `to_version`,
        insert the transactions and add the day sums (rows at that version agree with the
        summary, so adding counts nothing twice), in one round trip where the store can, and
        return True. Otherwise change nothing and return False (the caller folds instead)."""
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

    def snapshot_before(self, stream_id: str, moment: datetime) -> tuple[Snapshot, datetime] | None:
        """The stream's latest snapshot whose last event occurred at or before `moment`, with
        that event's time (None if there is none)."""
        ...

    def checkpoint(self, name: str) -> int: ...

    def head_position(self) -> int: ...
