"""Read-model rows as the audit sees them: keyed by table, listed in full, told apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from backend.application.ports.audit import ReadModelRows
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.read_models import ReadModelStore
from backend.application.projections.accounts import NAME as ACCOUNTS
from backend.application.projections.transfers import NAME as TRANSFERS

SUMMARIES, TRANSACTIONS, DAILY, TRANSFER_VIEWS = (
    "account_summaries", "transactions", "daily_totals", "transfer_views",
)  # fmt: skip
#: The tables each projection writes (and its checkpoint vouches for).
TABLES_OF: dict[str, tuple[str, ...]] = {
    ACCOUNTS: (SUMMARIES, TRANSACTIONS, DAILY),
    TRANSFERS: (TRANSFER_VIEWS,),
}

#: A row's identity: (table, key within it).
RowKey = tuple[str, Hashable]


@dataclass(frozen=True, slots=True)
class RowMismatch:
    """A read-model row that differs from the log, named by the account or transfer it
    belongs to; `fields` lists (name, live value, value from the log) where both exist."""

    table: str
    belongs_to: str
    key: str
    reason: str
    fields: tuple[tuple[str, object, object], ...] = ()


def versioned_rows(source: ReadModelRows) -> Iterator[tuple[RowKey, str, Any]]:
    """(key, stream id, row) of every row that carries its stream's version."""
    for summary in source.all_summaries():
        yield (SUMMARIES, summary.account_id), summary.account_id, summary
    for day in source.all_daily_totals():
        yield (DAILY, (day.account_id, day.day)), day.account_id, day
    for transfer in source.all_transfers():
        yield (TRANSFER_VIEWS, transfer.transfer_id), transfer.transfer_id, transfer


def scratch_row(store: ReadModelStore, key: RowKey) -> Any:
    """The versioned row `key` in `store`, or None."""
    table, row_key = key
    if table == SUMMARIES:
        return store.account_summaries([str(row_key)]).get(str(row_key))
    if table == TRANSFER_VIEWS:
        return store.transfers([str(row_key)]).get(str(row_key))
    day_key: Any = row_key
    return store.daily_totals([day_key]).get(day_key)


def describe(key: RowKey, reason: str, live: Any, folded: Any) -> RowMismatch:
    """The mismatch of row `key`: `live` as stored, `folded` from the log (either may be None)."""
    table, row_key = key
    row = live if live is not None else folded
    owner = row_key if table == TRANSFER_VIEWS else row.account_id
    text = " ".join(str(part) for part in row_key) if isinstance(row_key, tuple) else str(row_key)
    return RowMismatch(table, str(owner), text, reason, _differences(live, folded))


def _differences(live: Any, folded: Any) -> tuple[tuple[str, object, object], ...]:
    if live is None or folded is None:
        return ()
    return tuple(
        (f.name, getattr(live, f.name), getattr(folded, f.name))
        for f in dataclasses.fields(live)
        if getattr(live, f.name) != getattr(folded, f.name)
    )


def unfoldable(events: Sequence[StoredEvent], error: Exception) -> RowMismatch:
    """The projections could not fold these events (say one was rewritten into nonsense)."""
    first, last = events[0], events[-1]
    where = f"positions {first.position}-{last.position}"
    reason = f"the log cannot be folded ({type(error).__name__}: {error})"
    return RowMismatch("events", last.stream_id, where, reason)
