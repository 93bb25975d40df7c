"""The read-model check: every live row equals the fold of the log at the row's own version.

The projections themselves fold the log again into a scratch store (what a rebuild does into
shadow tables). The fold pauses right after each event that a live row says it reflects (its
stream and version) to compare that row, and at each projection's checkpoint to note which
rows must exist by then and at what version at least. So a row the inline projector wrote
ahead of the follower, or a follower still catching up, is no error; a row that differs from
the log, lags its projection's checkpoint, is missing, or reflects a version the log never
reached, is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.application.audit.rows import (
    TABLES_OF,
    TRANSACTIONS,
    RowKey,
    RowMismatch,
    describe,
    scratch_row,
    unfoldable,
    versioned_rows,
)
from backend.application.ports.audit import Checkpoints, ReadModelRows, ScratchReadModels
from backend.application.ports.event_store import EventStore, StoredEvent
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.projections.base import Projection

__all__ = ["ReadModelAudit", "RowMismatch"]

PAGE_SIZE = 1000


class _Found(Exception):
    """Ends the fold at the first mismatch."""

    def __init__(self, mismatch: RowMismatch) -> None:
        super().__init__(mismatch.reason)
        self.mismatch = mismatch


@dataclass
class _Live:
    """The live rows by key, and those reflecting each (stream, version) not yet compared."""

    rows: dict[RowKey, Any]
    transactions: dict[str, Any]
    due: dict[tuple[str, int], list[RowKey]] = field(default_factory=dict)

    @classmethod
    def read(cls, source: ReadModelRows) -> _Live:
        live = cls({}, {row.transaction_id: row for row in source.all_transactions()})
        for key, stream_id, row in versioned_rows(source):
            live.rows[key] = row
            live.due.setdefault((stream_id, row.version), []).append(key)
        return live

    def never_reached(self) -> list[RowKey]:
        return sorted((key for keys in self.due.values() for key in keys), key=str)


@dataclass
class ReadModelAudit:
    """Folds the log into `scratch` with `projections`, comparing the live rows on the way."""

    uow_factory: UnitOfWorkFactory
    projections: Sequence[Projection]
    scratch: ScratchReadModels
    page_size: int = PAGE_SIZE
    #: Rows that must exist by the checkpoints, with the version they must have reached.
    _floor: dict[RowKey, int] = field(default_factory=dict, init=False)
    _floor_transactions: set[str] = field(default_factory=set, init=False)
    #: What the last run read: each projection's checkpoint, and how many live rows.
    marks: dict[str, int] = field(default_factory=dict, init=False)
    compared: int = field(default=0, init=False)

    def run(self, checkpoints: Checkpoints, live_rows: ReadModelRows) -> RowMismatch | None:
        """The first row that differs from the log (None: all agree). Checkpoints are read
        before the rows: a row only moves forward, so it cannot fall behind them meanwhile."""
        self.marks = {p.name: checkpoints.checkpoint(p.name) for p in self.projections}
        marks = dict(self.marks)
        live = _Live.read(live_rows)
        self.compared = len(live.rows) + len(live.transactions)
        try:
            self._fold(marks, live)
            self._after_fold(live)
        except _Found as found:
            return found.mismatch
        return None

    def _fold(self, marks: dict[str, int], live: _Live) -> None:
        position = 0
        while True:
            with self.uow_factory() as uow:
                page = uow.events.read_all(position, self.page_size)
                for chunk in self._chunks(page, marks, live):
                    self._apply(chunk, uow.events, live)
            if not page:
                break
            position = page[-1].position
        for name in marks:  # checkpoints at the head (or past it: no event left to cross)
            self._note_floor(name)

    def _chunks(
        self, page: list[StoredEvent], marks: dict[str, int], live: _Live
    ) -> Iterator[list[StoredEvent]]:
        """The page cut after each event a live row reflects, and before each checkpoint's
        crossing (whose floor is noted in between)."""
        chunk: list[StoredEvent] = []
        for event in page:
            for name in [n for n, mark in marks.items() if mark < event.position]:
                if chunk:
                    yield chunk
                    chunk = []
                self._note_floor(name)
                del marks[name]
            chunk.append(event)
            if (event.stream_id, event.version) in live.due:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _apply(self, chunk: list[StoredEvent], history: EventStore, live: _Live) -> None:
        try:
            for projection in self.projections:
                projection.apply(chunk, self.scratch, history)
        except Exception as error:  # a tampered event may not even decode: report, not crash
            raise _Found(unfoldable(chunk, error)) from error
        last = chunk[-1]
        for key in live.due.pop((last.stream_id, last.version), []):
            folded = scratch_row(self.scratch, key)
            if folded != live.rows[key]:
                reason = f"differs from the log at version {last.version}"
                raise _Found(describe(key, reason, live.rows[key], folded))

    def _note_floor(self, name: str) -> None:
        tables = TABLES_OF.get(name, ())
        for key, _, row in versioned_rows(self.scratch):
            if key[0] in tables:
                self._floor[key] = row.version
        if TRANSACTIONS in tables:
            self._floor_transactions = {r.transaction_id for r in self.scratch.all_transactions()}

    def _after_fold(self, live: _Live) -> None:
        for key in live.never_reached():
            row = live.rows[key]
            reason = f"reflects version {row.version}, which its stream never reached"
            raise _Found(describe(key, reason, row, scratch_row(self.scratch, key)))
        self._check_floors(live)
        self._check_transactions(live)

    def _check_floors(self, live: _Live) -> None:
        for key, version in self._floor.items():
            row = live.rows.get(key)
            if row is None or row.version < version:
                reached = f"the log had reached version {version} by its checkpoint"
                reason = f"is missing: {reached}" if row is None else f"lags: {reached}"
                raise _Found(describe(key, reason, row, scratch_row(self.scratch, key)))

    def _check_transactions(self, live: _Live) -> None:
        folded = {row.transaction_id: row for row in self.scratch.all_transactions()}
        for transaction_id, row in live.transactions.items():
            if folded.get(transaction_id) != row:
                reason = "differs from the log" if transaction_id in folded else "has no event"
                key: RowKey = (TRANSACTIONS, transaction_id)
                raise _Found(describe(key, reason, row, folded.get(transaction_id)))
        for transaction_id in sorted(self._floor_transactions - live.transactions.keys()):
            key = (TRANSACTIONS, transaction_id)
            raise _Found(describe(key, "is missing", None, folded[transaction_id]))
