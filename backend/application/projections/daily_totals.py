"""Daily totals per account: deposits, withdrawals, transfers in and out, closing balance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from backend.application.ports.read_models import ReadModelStore
from backend.application.projections.transactions import (
    DEPOSIT,
    TRANSFER_IN,
    TRANSFER_OUT,
    WITHDRAWAL,
)
from backend.application.read_models import DailyTotal, DayKey, TransactionRow


@dataclass(frozen=True)
class DayRows:
    """Day rows read ahead: those `found` among the keys `asked` (a missing key has no row)."""

    asked: frozenset[DayKey]
    found: dict[DayKey, DailyTotal]


#: Index of each transaction kind's sum among DailyTotal's four sums (fields 3 to 6).
_SUM_OF_KIND = {DEPOSIT: 0, WITHDRAWAL: 1, TRANSFER_IN: 2, TRANSFER_OUT: 3}


def day_of(move: TransactionRow) -> date:
    """Days are UTC days."""
    return utc_day(move.occurred_at)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def daily_after(total: DailyTotal | None, move: TransactionRow, version: int) -> DailyTotal:
    """The day's row once the transaction at account stream `version` is counted.

    A row already at `version` or later counts it already (another writer got there first).
    """
    if total is None:
        total = DailyTotal(move.account_id, day_of(move), 0, 0, 0, 0, 0, 0)
    if total.version >= version:
        return total
    sums = [total.deposits, total.withdrawals, total.transfers_in, total.transfers_out]
    sums[_SUM_OF_KIND[move.kind]] += move.amount
    deposits, withdrawals, transfers_in, transfers_out = sums
    return DailyTotal(
        total.account_id, total.day, deposits, withdrawals, transfers_in, transfers_out,
        move.balance_after, version,
    )  # fmt: skip


def daily_totals_after(
    moves: Sequence[tuple[TransactionRow, int]], read: DayRows, store: ReadModelStore
) -> list[DailyTotal]:
    """The day rows a batch of transactions changes, counting each (transaction, account
    stream version) once; the caller saves them. `read`: rows read already (the rest are
    read from `store`)."""
    if not moves:
        return []
    missing = {(move.account_id, day_of(move)) for move, _ in moves} - read.asked
    totals = read.found | store.daily_totals(missing) if missing else dict(read.found)
    changed: dict[DayKey, DailyTotal] = {}
    for move, version in moves:
        key = (move.account_id, day_of(move))
        totals[key] = changed[key] = daily_after(totals.get(key), move, version)
    return list(changed.values())
