"""In-memory adapter of the IdempotencyKeys port, a member of the in-memory unit of work."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from backend.application.errors import ConcurrencyError
from backend.application.idempotency import IdempotencyKeyInUse
from backend.application.ports.idempotency import KeyRecord

KeyId = tuple[str, str]


@dataclass
class InMemoryKeyData:
    """The committed key records, and the keys that open units of work hold."""

    records: dict[KeyId, KeyRecord] = field(default_factory=dict)
    held: set[KeyId] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class InMemoryIdempotencyKeys:
    """Keys of one unit of work: writes are staged and published at its commit."""

    def __init__(self, data: InMemoryKeyData) -> None:
        self._data = data
        self._held: set[KeyId] = set()
        self._added: dict[KeyId, KeyRecord] = {}
        self._forgotten: set[KeyId] = set()
        self._purge_before: datetime | None = None

    def hold(self, user_id: str, key: str) -> KeyRecord | None:
        key_id = (user_id, key)
        with self._data.lock:
            if key_id not in self._held:
                if key_id in self._data.held:
                    raise IdempotencyKeyInUse("a request with this Idempotency-Key is running")
                self._data.held.add(key_id)
                self._held.add(key_id)
            return None if key_id in self._forgotten else self._data.records.get(key_id)

    def add(self, record: KeyRecord) -> None:
        key_id = (record.user_id, record.key)
        with self._data.lock:
            if key_id in self._data.records and key_id not in self._forgotten:
                raise ConcurrencyError(f"idempotency key {record.key!r} was stored meanwhile")
        self._added[key_id] = record

    def forget(self, user_id: str, key: str) -> None:
        self._forgotten.add((user_id, key))

    def purge(self, created_before: datetime) -> None:
        self._purge_before = created_before

    def publish(self) -> None:
        """Make the staged writes visible (at the unit of work's commit)."""
        with self._data.lock:
            records = self._data.records
            for key_id in self._forgotten:
                records.pop(key_id, None)
            records.update(self._added)
            if (before := self._purge_before) is not None:
                self._data.records = {k: r for k, r in records.items() if r.created_at >= before}

    def discard(self) -> None:
        """Drop the staged writes and let go of the held keys."""
        with self._data.lock:
            self._data.held -= self._held
        self._held.clear()
        self._added.clear()
        self._forgotten.clear()
        self._purge_before = None
