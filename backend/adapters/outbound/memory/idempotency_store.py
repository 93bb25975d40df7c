"""In-memory adapter of the IdempotencyStore port."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from backend.application.idempotency import IdempotencyKeyInUse
from backend.application.identity_ports import IdempotencyRecord, StoredResponse
from backend.application.ports import UnitOfWork


class InMemoryIdempotencyStore:
    """Keys in a dict under a lock.

    complete() writes at once rather than at the unit of work's commit: the in-memory unit of
    work has no commit hook, and its commit cannot fail after the handler has returned.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], IdempotencyRecord] = {}

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        with self._lock:
            existing = self._records.setdefault((record.user_id, record.key), record)
        return None if existing is record else existing

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        with self._lock:
            if self._current_lease(stale) != stale.lease_token:
                return False
            self._records[(record.user_id, record.key)] = record
            return True

    def complete(
        self, uow: UnitOfWork, record: IdempotencyRecord, response: StoredResponse
    ) -> None:
        with self._lock:
            if self._current_lease(record) != record.lease_token:
                raise IdempotencyKeyInUse("the idempotency key was taken over by another request")
            self._records[(record.user_id, record.key)] = replace(record, response=response)

    def release(self, record: IdempotencyRecord) -> None:
        with self._lock:
            current = self._records.get((record.user_id, record.key))
            if current is not None and (current.response, current.lease_token) == (
                None,
                record.lease_token,
            ):
                del self._records[(record.user_id, record.key)]

    def purge(self, created_before: datetime) -> None:
        with self._lock:
            self._records = {
                k: r for k, r in self._records.items() if r.created_at >= created_before
            }

    def _current_lease(self, record: IdempotencyRecord) -> str | None:
        current = self._records.get((record.user_id, record.key))
        return current.lease_token if current is not None else None
