"""In-memory adapters of the idempotency ports (IdempotencyStore, IdempotencyKeys)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.application.idempotency import IdempotencyKeyInUse
from backend.application.ports.idempotency import IdempotencyRecord, StoredResponse

Key = tuple[str, str]


class InMemoryIdempotencyStore:
    """Claims in the InMemoryDatabase's key table, each visible at once (under its lock)."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        with self._db.lock:
            existing = self._db.idempotency.setdefault(_key(record), record)
        return None if existing is record else existing

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        with self._db.lock:
            if current_lease(self._db, stale) != stale.lease_token:
                return False
            self._db.idempotency[_key(record)] = record
            return True

    def release(self, record: IdempotencyRecord) -> None:
        with self._db.lock:
            current = self._db.idempotency.get(_key(record))
            if current is not None and (current.response, current.lease_token) == (
                None,
                record.lease_token,
            ):
                del self._db.idempotency[_key(record)]

    def purge(self, created_before: datetime) -> None:
        with self._db.lock:
            kept = {k: r for k, r in self._db.idempotency.items() if r.created_at >= created_before}
            self._db.idempotency = kept


class InMemoryIdempotencyKeys:
    """IdempotencyKeys of one in-memory unit of work: responses are staged until its commit."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db
        self._staged: dict[Key, IdempotencyRecord] = {}

    def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        with self._db.lock:
            if current_lease(self._db, record) != record.lease_token:
                raise IdempotencyKeyInUse("the idempotency key was taken over by another request")
        self._staged[_key(record)] = replace(record, response=response)

    def publish(self) -> None:
        """Make the staged responses visible (the caller holds the database lock)."""
        self._db.idempotency.update(self._staged)

    def discard(self) -> None:
        """Forget the staged responses."""
        self._staged.clear()


def current_lease(db: InMemoryDatabase, record: IdempotencyRecord) -> str | None:
    """The lease token now holding `record`'s key (the caller holds the database lock)."""
    current = db.idempotency.get(_key(record))
    return current.lease_token if current is not None else None


def _key(record: IdempotencyRecord) -> Key:
    return (record.user_id, record.key)
