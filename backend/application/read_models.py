"""Read-model rows: what projections write and queries read (the ports are in
`ports.read_models`).

Every row that folds a stream carries the stream version it reflects. Writers keep the row
with the higher version (a guarded upsert), so the inline projector, the followers and a
rebuild may all write the same row, in any order, without counting anything twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

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
