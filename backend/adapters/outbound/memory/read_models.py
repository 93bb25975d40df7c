"""In-memory read models: a transactional store for projections and a reader for queries.

Like the in-memory unit of work, writes are staged and published at commit, where the
version guards are applied again against whatever other units of work committed meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from backend.adapters.outbound.account_rows import account_rows_apart
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

if TYPE_CHECKING:
    from backend.adapters.outbound.memory.event_store import InMemoryDatabase

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class InMemoryReadModelData:
    """The committed read models of an InMemoryDatabase."""

    summaries: dict[str, AccountSummary] = field(default_factory=dict)
    transactions: dict[str, TransactionRow] = field(default_factory=dict)
    daily: dict[DayKey, DailyTotal] = field(default_factory=dict)
    transfers: dict[str, TransferSummary] = field(default_factory=dict)
    checkpoints: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def tables(self) -> tuple[dict[Any, Any], ...]:
        return (self.summaries, self.transactions, self.daily, self.transfers, self.checkpoints)


def _newer(stored: Any, new: Any) -> bool:
    """The version guard: a row replaces another only with a higher stream version."""
    return stored is None or bool(stored.version < new.version)


def _first(stored: Any, new: Any) -> bool:
    """Transactions are immutable: the first one stored stays."""
    return stored is None


def _always(stored: Any, new: Any) -> bool:
    return True


#: Indexes of the tables in InMemoryReadModelData.tables().
SUMMARIES, TRANSACTIONS, DAILY, TRANSFERS, CHECKPOINTS = range(5)

#: How each table (in InMemoryReadModelData.tables order) merges a staged row.
_MERGE_RULES: tuple[Callable[[Any, Any], bool], ...] = (_newer, _first, _newer, _newer, _always)


class InMemoryCheckpointStore:
    """Checkpoints staged in the owning store until commit."""

    def __init__(self, store: InMemoryReadModelStore) -> None:
        self._store = store

    def position(self, name: str) -> int:
        return int(self._store.lookup(CHECKPOINTS, [name]).get(name, 0))

    def save(self, name: str, position: int) -> None:
        self._store.stage(CHECKPOINTS, {name: position})


class InMemoryReadModelStore:
    """ReadModelStore over InMemoryReadModelData; nothing is visible to others before commit."""

    def __init__(self, data: InMemoryReadModelData) -> None:
        self._data = data
        self._staged: tuple[dict[Any, Any], ...] = tuple({} for _ in data.tables())
        self.checkpoints = InMemoryCheckpointStore(self)

    def lookup(self, table: int, keys: Collection[K]) -> dict[K, Any]:
        """Rows by key, this transaction's staged writes first."""
        committed, staged = self._data.tables()[table], self._staged[table]
        with self._data.lock:
            found = {key: committed[key] for key in keys if key in committed}
        merge = _MERGE_RULES[table]
        found.update({k: staged[k] for k in keys if k in staged and merge(found.get(k), staged[k])})
        return found

    def stage(self, table: int, rows: dict[Any, Any]) -> None:
        staged, merge = self._staged[table], _MERGE_RULES[table]
        staged.update({k: row for k, row in rows.items() if merge(staged.get(k), row)})

    def account_summaries(self, account_ids: Collection[str]) -> dict[str, AccountSummary]:
        return self.lookup(SUMMARIES, account_ids)

    def daily_totals(self, keys: Collection[DayKey]) -> dict[DayKey, DailyTotal]:
        return self.lookup(DAILY, keys)

    def account_rows(
        self, account_ids: Collection[str], days: Collection[DayKey]
    ) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
        return account_rows_apart(self, account_ids, days)

    def transfers(self, transfer_ids: Collection[str]) -> dict[str, TransferSummary]:
        return self.lookup(TRANSFERS, transfer_ids)

    def save_transfers(self, rows: Sequence[TransferSummary]) -> None:
        self.stage(TRANSFERS, {row.transfer_id: row for row in rows})

    def save_account_changes(self, changes: AccountChanges) -> None:
        self.stage(SUMMARIES, {row.account_id: row for row in changes.summaries})
        self.stage(TRANSACTIONS, {row.transaction_id: row for row in changes.transactions})
        self.stage(DAILY, {(row.account_id, row.day): row for row in changes.daily_totals})

    def advance_account(self, advance: AccountAdvance) -> bool:
        summary = self.lookup(SUMMARIES, [advance.account_id]).get(advance.account_id)
        if summary is None or summary.version != advance.from_version:
            return False
        after = advance.summary_after(summary)
        increments = {(d.account_id, d.day): d for d in advance.day_increments_at(after.balance)}
        days = self.lookup(DAILY, increments)
        self.stage(SUMMARIES, {after.account_id: after})
        transactions = advance.transactions_at(after.balance)
        self.stage(TRANSACTIONS, {row.transaction_id: row for row in transactions})
        self.stage(DAILY, {k: days[k].plus(d) if k in days else d for k, d in increments.items()})
        return True

    def publish(self) -> None:
        """Commit the staged rows, each through its table's guard."""
        with self._data.lock:
            for table, staged, merge in zip(
                self._data.tables(), self._staged, _MERGE_RULES, strict=True
            ):
                table.update({k: v for k, v in staged.items() if merge(table.get(k), v)})
        self.discard()

    def discard(self) -> None:
        for staged in self._staged:
            staged.clear()


class InMemoryReadModelRows:
    """ReadModelRows (full scans, for the audit) over committed read models."""

    def __init__(self, data: InMemoryReadModelData) -> None:
        self._data = data

    def all_summaries(self) -> list[AccountSummary]:
        with self._data.lock:
            return list(self._data.summaries.values())

    def all_transactions(self) -> list[TransactionRow]:
        with self._data.lock:
            return list(self._data.transactions.values())

    def all_daily_totals(self) -> list[DailyTotal]:
        with self._data.lock:
            return list(self._data.daily.values())

    def all_transfers(self) -> list[TransferSummary]:
        with self._data.lock:
            return list(self._data.transfers.values())


class InMemoryScratchReadModels(InMemoryReadModelStore, InMemoryReadModelRows):
    """A private store that commits every write at once: what the audit folds the log into."""

    def __init__(self) -> None:
        data = InMemoryReadModelData()
        InMemoryReadModelStore.__init__(self, data)
        InMemoryReadModelRows.__init__(self, data)

    def stage(self, table: int, rows: dict[Any, Any]) -> None:
        super().stage(table, rows)
        self.publish()


class InMemoryReadModelReader(InMemoryReadModelRows):
    """ReadModelReader over an InMemoryDatabase's committed events and read models."""

    def __init__(self, db: InMemoryDatabase) -> None:
        super().__init__(db.read_models)
        self._db = db

    def account(self, account_id: str) -> AccountSummary | None:
        with self._data.lock:
            return self._data.summaries.get(account_id)

    def accounts_and_transfers(
        self, account_ids: Collection[str], transfer_ids: Collection[str]
    ) -> tuple[dict[str, AccountSummary], dict[str, TransferSummary]]:
        with self._data.lock:
            summaries, transfers = self._data.summaries, self._data.transfers
            return (
                {i: summaries[i] for i in account_ids if i in summaries},
                {i: transfers[i] for i in transfer_ids if i in transfers},
            )

    def accounts_of(
        self, owner_id: str, after_position: int | None, limit: int
    ) -> list[AccountSummary]:
        with self._data.lock:
            rows = [s for s in self._data.summaries.values() if s.owner_id == owner_id]
        rows = [r for r in rows if after_position is None or r.opened_position > after_position]
        return sorted(rows, key=lambda r: r.opened_position)[:limit]

    def transactions_of(
        self, account_id: str, before_position: int | None, limit: int
    ) -> list[TransactionRow]:
        with self._data.lock:
            rows = [t for t in self._data.transactions.values() if t.account_id == account_id]
        rows = [r for r in rows if before_position is None or r.position < before_position]
        return sorted(rows, key=lambda r: r.position, reverse=True)[:limit]

    def daily_totals_of(self, account_id: str) -> list[DailyTotal]:
        with self._data.lock:
            rows = [d for (key, _), d in self._data.daily.items() if key == account_id]
        return sorted(rows, key=lambda r: r.day)

    def transfer(self, transfer_id: str) -> TransferSummary | None:
        with self._data.lock:
            return self._data.transfers.get(transfer_id)

    def transfers_visible_to(
        self,
        viewer_id: str,
        account_id: str | None,
        status: str | None,
        before_position: int | None,
        limit: int,
    ) -> list[TransferSummary]:
        with self._data.lock:
            rows = list(self._data.transfers.values())
        rows = [
            r
            for r in rows
            if viewer_id in (r.source_owner_id, r.target_owner_id)
            and account_id in (None, r.source_account_id, r.target_account_id)
            and status in (None, r.status)
            and (before_position is None or r.created_position < before_position)
        ]
        return sorted(rows, key=lambda r: r.created_position, reverse=True)[:limit]

    def stream(self, stream_id: str, after_version: int, limit: int) -> list[StoredEvent]:
        with self._db.lock:
            events = list(self._db.streams.get(stream_id, ()))
        return [e for e in events if e.version > after_version][:limit]

    def all_snapshots(self) -> list[Snapshot]:
        with self._db.lock:
            older = [s for kept in self._db.older_snapshots.values() for s in kept.values()]
            return [*older, *self._db.snapshots.values()]

    def snapshot_before(self, stream_id: str, moment: datetime) -> tuple[Snapshot, datetime] | None:
        with self._db.lock:
            kept = list(self._db.older_snapshots.get(stream_id, {}).values())
            if (latest := self._db.snapshots.get(stream_id)) is not None:
                kept.append(latest)
            times = {e.version: e.occurred_at for e in self._db.streams.get(stream_id, [])}
        taken = [(s, times[s.version]) for s in kept if s.version in times]
        usable = [(s, at) for s, at in taken if at <= moment]
        return max(usable, key=lambda found: found[0].version, default=None)

    def checkpoint(self, name: str) -> int:
        with self._data.lock:
            return self._data.checkpoints.get(name, 0)

    def head_position(self) -> int:
        with self._db.lock:
            return self._db.events[-1].position if self._db.events else 0
