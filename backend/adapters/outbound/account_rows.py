"""Read-model helpers shared by the store adapters that have no cheaper combined read."""

from __future__ import annotations

from collections.abc import Collection

from backend.application.ports.read_models import ReadModelStore
from backend.application.read_models import AccountSummary, DailyTotal, DayKey


def account_rows_apart(
    store: ReadModelStore, account_ids: Collection[str], days: Collection[DayKey]
) -> tuple[dict[str, AccountSummary], dict[DayKey, DailyTotal]]:
    """`ReadModelStore.account_rows` as the store's two reads, for stores that have no cheaper
    combined one."""
    ids = set(account_ids)
    return store.account_summaries(ids), store.daily_totals([k for k in days if k[0] in ids])
