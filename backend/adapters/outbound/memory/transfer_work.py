"""In-memory transfer work: the pending transfers, staged in a unit of work until its commit,
and the claims of the engines on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.work_rows import WorkRow
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.transfer_work import ClaimedTransfer, StuckTransfer, lease_for
from backend.domain.events import event_type, event_types
from backend.domain.transfer import TRANSFER_ENDS, TransferRequested

_REQUESTED = event_type(TransferRequested)
_TERMINAL = frozenset(event_types(TRANSFER_ENDS))


class InMemoryTransferWork:
    """TransferWork of an in-memory unit of work: rows staged until it commits."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db
        self._added: dict[str, WorkRow] = {}
        self._ended: set[str] = set()
        self._taken: set[str] = set()

    def claim(self, now: datetime, limit: int) -> list[ClaimedTransfer]:
        with self._db.lock:  # rows another unit of work took are skipped, as SKIP LOCKED does
            taken = self._db.transfer_work_taken
            ready = sorted(
                (r for r in self._db.transfer_work.values() if r.ready_at <= now),
                key=lambda row: row.ready_at,
            )
            rows = [row for row in ready if row.transfer_id not in taken][:limit]
            self._taken.update(row.transfer_id for row in rows)
            taken.update(self._taken)
            return [claimed_transfer(self._db, row) for row in rows]

    def track(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            if event.type == _REQUESTED:
                self._added[event.stream_id] = WorkRow(
                    event.stream_id, event.occurred_at, event.occurred_at
                )
            elif event.type in _TERMINAL:
                self._ended.add(event.stream_id)

    def publish(self) -> None:
        """At commit (the caller holds the database lock)."""
        self._db.transfer_work.update(self._added)
        for transfer_id in self._ended:
            self._db.transfer_work.pop(transfer_id, None)
        self.discard()

    def discard(self) -> None:
        self._added.clear()
        self._ended.clear()
        with self._db.lock:
            self._db.transfer_work_taken.difference_update(self._taken)
        self._taken.clear()


class InMemoryTransferClaims:
    """TransferClaims over an InMemoryDatabase: the table's rows under its lock."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db

    def ready(self, now: datetime) -> bool:
        with self._db.lock:
            return any(row.ready_at <= now for row in self._db.transfer_work.values())

    def stuck(self, min_attempts: int, limit: int) -> list[StuckTransfer]:
        with self._db.lock:
            rows = [r for r in self._db.transfer_work.values() if r.attempts >= min_attempts]
        rows.sort(key=lambda row: (-row.attempts, row.transfer_id))
        return [StuckTransfer(r.transfer_id, r.attempts, r.ready_at) for r in rows[:limit]]

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[ClaimedTransfer]:
        with self._db.lock:
            ready = sorted(
                (row for row in self._db.transfer_work.values() if row.ready_at <= now),
                key=lambda row: row.ready_at,
            )[:limit]
            for row in ready:
                row.attempts += 1
                row.ready_at = now + lease_for(lease, row.attempts)
            return [claimed_transfer(self._db, row) for row in ready]


def claimed_transfer(db: InMemoryDatabase, row: WorkRow) -> ClaimedTransfer:
    """The claim of `row` (the caller holds the database lock)."""
    stream = db.streams.get(row.transfer_id, [])
    cause = stream[-1].event_id if stream else None
    return ClaimedTransfer(row.transfer_id, cause, row.requested_at, row.attempts)
