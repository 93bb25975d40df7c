"""The rebuild's read-model store: shadow rows it wrote are served from memory.

Shadow tables start empty and only the rebuild writes them, so the rows it wrote are known
without asking the database, and a key it never wrote is absent. Memory stays bounded by the
number of accounts and of unfinished transfers: only each account's latest day is kept, and a
finished transfer is forgotten (an older day or a finished transfer is read back if needed).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from backend.adapters.outbound.account_rows import account_rows_apart
from backend.adapters.outbound.sqlalchemy.read_models import (
    SqlAlchemyCheckpointStore,
    SqlAlchemyReadModelStore,
)
from backend.application.read_models import (
    AccountAdvance,
    AccountChanges,
    AccountSummary,
    DailyTotal,
    DayKey,
    TransferSummary,
)

FINISHED = ("completed", "failed")


@dataclass
class ShadowCache:
    """What a rebuild remembers across its pages, for the read models it owns."""

    accounts_owned: bool
    transfers_owned: bool
    summaries: dict[str, AccountSummary] = field(default_factory=dict)
    latest_days: dict[str, DailyTotal] = field(default_factory=dict)
    transfers: dict[str, TransferSummary] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)


class ShadowReadModelStore:
    """ReadModelStore for one page of a rebuild: writes go through, loads hit the cache."""

    def __init__(self, inner: SqlAlchemyReadModelStore, cache: ShadowCache) -> None:
        self._inner = inner
        self._cache = cache

    @property
    def checkpoints(self) -> SqlAlchemyCheckpointStore:
        return self._inner.checkpoints

    def account_summaries(self, account_ids: Collection[str]) -> dict[str, AccountSummary]:
        if not self._cache.accounts_owned:
            return self._inner.account_summaries(account_ids)
        known = self._cache.summaries
        return {key: known[key] for key in account_ids if key in known}

    def daily_totals(self, keys: Collection[DayKey]) -> dict[DayKey, DailyTotal]:
        if not self._cache.accounts_owned:
            return self._inner.daily_totals(keys)
        found: dict[DayKey, DailyTotal] = {}
        older: list[DayKey] = []
        for account_id, day in keys:
            latest = self._cache.latest_days.get(account_id)
            if latest is not None and latest.day == day:
                found[(account_id, day)] = latest
            elif latest is not None and day < latest.day:
                older.append((account_id, day))  # a clock that stepped back: rare
        return found | self._inner.daily_totals(older) if older else found

    def account_rows(
        self, account_ids: Collection[str], days: Collection[DayKey]
    ) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
        if not self._cache.accounts_owned:
            return self._inner.account_rows(account_ids, days)
        return account_rows_apart(self, account_ids, days)

    def transfers(self, transfer_ids: Collection[str]) -> dict[str, TransferSummary]:
        if not self._cache.transfers_owned:
            return self._inner.transfers(transfer_ids)
        known, finished = self._cache.transfers, self._cache.finished
        found = {key: known[key] for key in transfer_ids if key in known}
        gone = [key for key in transfer_ids if key in finished]
        return found | self._inner.transfers(gone) if gone else found

    def save_account_changes(self, changes: AccountChanges) -> None:
        self._cache.summaries.update((row.account_id, row) for row in changes.summaries)
        latest = self._cache.latest_days
        for row in changes.daily_totals:
            if row.account_id not in latest or latest[row.account_id].day <= row.day:
                latest[row.account_id] = row
        self._inner.save_account_changes(changes)

    def advance_account(self, advance: AccountAdvance) -> bool:
        return False  # a rebuild folds every event; commands never write to its tables

    def save_transfers(self, rows: Sequence[TransferSummary]) -> None:
        for row in rows:
            if row.status in FINISHED:
                self._cache.transfers.pop(row.transfer_id, None)
                self._cache.finished.add(row.transfer_id)
            else:
                self._cache.transfers[row.transfer_id] = row
        self._inner.save_transfers(rows)
