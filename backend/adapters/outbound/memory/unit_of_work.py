"""In-memory unit of work: a transaction over an InMemoryDatabase."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from backend.adapters.outbound.memory.event_feed import InMemoryEventFeedStore
from backend.adapters.outbound.memory.event_store import (
    InMemoryDatabase,
    InMemoryEventStore,
    InMemoryOutbox,
    InMemorySnapshotStore,
)
from backend.adapters.outbound.memory.idempotency_store import InMemoryIdempotencyKeys
from backend.adapters.outbound.memory.read_models import InMemoryReadModelStore
from backend.adapters.outbound.memory.transfer_work import InMemoryTransferWork


class InMemoryUnitOfWork:
    """A transaction over an InMemoryDatabase: nothing is visible to others before commit."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self.db = db
        self.snapshots = InMemorySnapshotStore(db)
        self.events = InMemoryEventStore(db, self.snapshots)
        self.outbox = InMemoryOutbox(db)
        self.read_models = InMemoryReadModelStore(db.read_models)
        self.idempotency_keys = InMemoryIdempotencyKeys(db.idempotency_keys)
        self.transfer_work = InMemoryTransferWork(db)
        self.feed = InMemoryEventFeedStore(db.feed)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        with self.db.lock:
            self.events.publish()
            self.snapshots.publish()
            self.read_models.publish()
            self.idempotency_keys.publish()
            self.transfer_work.publish()
            self.feed.publish()
        self.rollback()  # the writes are published: clear the buffers, free the append lock

    def rollback(self) -> None:
        self.events.end()
        self.snapshots.discard()
        self.read_models.discard()
        self.idempotency_keys.discard()
        self.transfer_work.discard()
        self.feed.discard()
