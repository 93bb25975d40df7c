"""In-memory database, event store, snapshot store and outbox.

It mirrors the SQL adapters' concurrency design: a unit of work takes the database's global
append lock at its first append and holds it until commit or rollback. Positions are handed
out under that lock, so commit order equals position order and a reader tailing positions
never sees a lower position appear after a higher one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC

from backend.adapters.outbound.memory.event_feed import InMemoryFeedData
from backend.adapters.outbound.memory.idempotency_store import InMemoryKeyData
from backend.adapters.outbound.memory.read_models import InMemoryReadModelData
from backend.adapters.outbound.memory.work_rows import WorkRow
from backend.application.errors import ConcurrencyError
from backend.application.event_hash import GENESIS, new_event_hashes
from backend.application.ports.event_store import (
    EventRecord,
    NewEvent,
    Snapshot,
    StoredEvent,
    StreamAppend,
    StreamHistory,
)
from backend.application.ports.outbox import OutboxMessage


@dataclass
class InMemoryDatabase:
    """The shared state every in-memory unit of work commits into."""

    events: list[StoredEvent] = field(default_factory=list)
    streams: dict[str, list[StoredEvent]] = field(default_factory=dict)
    #: The latest snapshot of each stream, and the older ones kept (by version).
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    older_snapshots: dict[str, dict[int, Snapshot]] = field(default_factory=dict)
    outbox: dict[int, StoredEvent] = field(default_factory=dict)
    read_models: InMemoryReadModelData = field(default_factory=InMemoryReadModelData)
    idempotency_keys: InMemoryKeyData = field(default_factory=InMemoryKeyData)
    #: The transfer-work table: a row per pending transfer (memory/transfer_work.py).
    transfer_work: dict[str, WorkRow] = field(default_factory=dict)
    #: Rows an open unit of work took (its engine's transaction), skipped by the others.
    transfer_work_taken: set[str] = field(default_factory=set)
    feed: InMemoryFeedData = field(default_factory=InMemoryFeedData)
    #: Guards the containers above for readers and the commit.
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Held by a unit of work from its first append to its end (the global append lock).
    append_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Per-stream queues of writers that conflicted once (EventStore.queue_for).
    stream_queues: dict[str, threading.Lock] = field(default_factory=dict)

    def stream_queue(self, stream_id: str) -> threading.Lock:
        with self.lock:
            return self.stream_queues.setdefault(stream_id, threading.Lock())


class InMemoryEventStore:
    """Event store port over an InMemoryDatabase, seeing its own unit of work's writes."""

    def __init__(self, db: InMemoryDatabase, snapshots: InMemorySnapshotStore) -> None:
        self._db = db
        self._snapshots = snapshots
        self.staged: list[StoredEvent] = []
        #: Positions of staged events that get no outbox row.
        self.unpublished: set[int] = set()
        self.holds_append_lock = False
        self.queued: list[threading.Lock] = []

    def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        previous_hash: str | None = None,
        *,
        publish: bool = True,
    ) -> list[StoredEvent]:
        if not self.holds_append_lock:
            self._db.append_lock.acquire()
            self.holds_append_lock = True
        stream = self.read_stream(stream_id)
        if (stream[-1].version if stream else 0) != expected_version:
            raise ConcurrencyError(f"{stream_id} is not at version {expected_version}", stream_id)
        # The stream's own head, not the caller's hint: here it costs nothing to read.
        previous = stream[-1].hash if stream else GENESIS
        hashes = new_event_hashes(previous, stream_id, expected_version, events)
        first_position = self._next_position()
        stored = [
            _stored(event, first_position + i, stream_id, stream_type, expected_version + 1 + i, h)
            for i, (event, h) in enumerate(zip(events, hashes, strict=True))
        ]
        self.staged.extend(stored)
        if not publish:
            self.unpublished.update(event.position for event in stored)
        return stored

    def append_streams(
        self, appends: Sequence[StreamAppend], *, publish: bool = True
    ) -> list[StoredEvent]:
        stored: list[StoredEvent] = []
        for save in appends:
            stream = (save.stream_id, save.stream_type, save.expected_version, save.events)
            stored.extend(self.append(*stream, publish=publish))
        return stored

    def queue_for(self, stream_id: str) -> None:
        queue = self._db.stream_queue(stream_id)
        if queue not in self.queued:
            queue.acquire()
            self.queued.append(queue)

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        with self._db.lock:
            committed = list(self._db.streams.get(stream_id, ()))
        staged = [event for event in self.staged if event.stream_id == stream_id]
        found = [e for e in committed + staged if e.version > after_version]
        return found[:limit] if limit is not None else found

    def history(self, stream_id: str, *, from_snapshot: bool = True) -> StreamHistory:
        snapshot = self._snapshots.load(stream_id) if from_snapshot else None
        after = snapshot.version if snapshot is not None else 0
        stream = self.read_stream(stream_id)
        events = [
            EventRecord(e.version, e.stream_type, e.type, e.schema_version, dict(e.data))
            for e in stream
            if e.version > after
        ]
        return StreamHistory(snapshot, events, stream[-1].hash if stream else None)

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        with self._db.lock:
            return [e for e in self._db.events if e.position > after_position][:limit]

    def head_position(self) -> int:
        with self._db.lock:
            return self._db.events[-1].position if self._db.events else 0

    def _next_position(self) -> int:
        last = self.staged[-1].position if self.staged else self.head_position()
        return last + 1

    def publish(self) -> None:
        """Make the staged events visible (the caller holds the database lock)."""
        for event in self.staged:
            self._db.events.append(event)
            self._db.streams.setdefault(event.stream_id, []).append(event)
            if event.position not in self.unpublished:
                self._db.outbox[event.position] = event

    def end(self) -> None:
        """Forget staged events and let the next writer append."""
        self.staged.clear()
        self.unpublished.clear()
        while self.queued:
            self.queued.pop().release()
        if self.holds_append_lock:
            self.holds_append_lock = False
            self._db.append_lock.release()


def _stored(
    event: NewEvent, position: int, stream_id: str, stream_type: str, version: int, chained: str
) -> StoredEvent:
    return StoredEvent(
        position=position,
        event_id=event.event_id,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        type=event.type,
        schema_version=event.schema_version,
        data=dict(event.data),
        metadata=event.metadata,
        occurred_at=event.occurred_at.astimezone(UTC),  # as the SQL stores hand it back
        hash=chained,
    )


class InMemorySnapshotStore:
    """Snapshots per stream (the latest, and older ones kept); writes become visible at commit."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db
        self._saved: list[Snapshot] = []
        self._forgotten: dict[str, set[int]] = {}

    def save(self, snapshot: Snapshot) -> None:
        self._saved.append(snapshot)

    def load(self, stream_id: str) -> Snapshot | None:
        with self._db.lock:
            found = [self._db.snapshots.get(stream_id)]
        found += [s for s in self._saved if s.stream_id == stream_id]
        return max((s for s in found if s is not None), key=lambda s: s.version, default=None)

    def versions(self, stream_id: str) -> list[int]:
        with self._db.lock:
            kept = set(self._db.older_snapshots.get(stream_id, {}))
            if (latest := self._db.snapshots.get(stream_id)) is not None:
                kept.add(latest.version)
        kept.update(s.version for s in self._saved if s.stream_id == stream_id)
        return sorted(kept - self._forgotten.get(stream_id, set()))

    def forget(self, stream_id: str, versions: Sequence[int]) -> None:
        self._forgotten.setdefault(stream_id, set()).update(versions)

    def publish(self) -> None:
        """Make the staged writes visible (at the unit of work's commit, under its lock)."""
        latest, older = self._db.snapshots, self._db.older_snapshots
        for snapshot in self._saved:
            stream = older.setdefault(snapshot.stream_id, {})
            stream[snapshot.version] = snapshot
            if (before := latest.get(snapshot.stream_id)) is not None:
                stream[before.version] = before
            newest = max(stream)
            latest[snapshot.stream_id] = stream.pop(newest)
        for stream_id, versions in self._forgotten.items():
            for version in versions:
                older.get(stream_id, {}).pop(version, None)

    def discard(self) -> None:
        self._saved.clear()
        self._forgotten.clear()


class InMemoryOutbox:
    """Undispatched events by position."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db

    def pending(self, limit: int = 500, after: int = 0) -> list[OutboxMessage]:
        with self._db.lock:
            ids = sorted(i for i in self._db.outbox if i > after)[:limit]
            return [OutboxMessage(i, self._db.outbox[i]) for i in ids]

    def mark_dispatched(self, outbox_ids: Sequence[int]) -> None:
        with self._db.lock:
            for outbox_id in outbox_ids:
                self._db.outbox.pop(outbox_id, None)
