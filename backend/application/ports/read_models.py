"""The read-model ports: writes inside a unit of work, checkpoints, and the queries' reader."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from backend.application.ports.event_store import Snapshot, StoredEvent
from backend.application.read_models import (
    AccountAdvance,
    AccountChanges,
    AccountSummary,
    DailyTotal,
    DayKey,
    TransactionRow,
    TransferSummary,
)


class CheckpointStore(Protocol):
    """The last global position each projection applied."""

    def position(self, name: str) -> int:
        """The checkpoint (0 when none), locked until the transaction ends where supported,
        so that followers and a rebuild's swap of the same projection serialise."""
        ...

    def save(self, name: str, position: int) -> None:
        """Set the projection's checkpoint to `position`."""
        ...


class ReadModelStore(Protocol):
    """Read-model writes inside a unit of work; loads see the transaction's own writes."""

    @property
    def checkpoints(self) -> CheckpointStore:
        """The projections' checkpoints, in this transaction."""
        ...

    def account_summaries(self, account_ids: Collection[str]) -> dict[str, AccountSummary]:
        """The summaries of those accounts that have one, by id."""
        ...

    def daily_totals(self, keys: Collection[DayKey]) -> dict[DayKey, DailyTotal]:
        """The day rows of those keys that have one."""
        ...

    def account_rows(
        self, account_ids: Collection[str], days: Collection[DayKey]
    ) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
        """`account_summaries(account_ids)` and, of `daily_totals(days)`, the rows of those
        accounts: in one read where the store can."""
        ...

    def transfers(self, transfer_ids: Collection[str]) -> dict[str, TransferSummary]:
        """The rows of those transfers that have one, by id."""
        ...

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


class ReadModelReader(Protocol):
    """What queries read: read models, checkpoints, and single streams for `as_of` and events.

    It may sit on a replica, so it may lag the primary by a little."""

    def account(self, account_id: str) -> AccountSummary | None:
        """The account's summary, or None."""
        ...

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

    def transfer(self, transfer_id: str) -> TransferSummary | None:
        """The transfer's row, or None."""
        ...

    def accounts_and_transfers(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> tuple[dict[str, AccountSummary], dict[str, TransferSummary]]:
        """The rows of these accounts and transfers (those that exist), in one read."""
        ...

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

    def checkpoint(self, name: str) -> int:
        """The projection's checkpoint (0 when none)."""
        ...

    def head_position(self) -> int:
        """The highest committed position of the event log (0 when empty)."""
        ...
