"""The idempotency-key port: a key's record is read and written inside the command's own
unit of work (its member), so the record commits with the command's effect or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An Idempotency-Key of one user: what its first request asked and what it answered."""

    user_id: str
    key: str
    fingerprint: str
    created_at: datetime
    #: The first request's result as a JSON document (idempotency.ResultCodec).
    result: dict[str, Any] = field(default_factory=dict)


class IdempotencyKeys(Protocol):
    """Idempotency keys per user, read and written inside a unit of work."""

    def hold(self, user_id: str, key: str) -> KeyRecord | None:
        """The key's record (None when unused), the key held until the transaction ends;
        raise IdempotencyKeyInUse while another open transaction holds it."""
        ...

    def add(self, record: KeyRecord) -> None:
        """Store a new key's record; ConcurrencyError when another transaction stored it first."""
        ...

    def forget(self, user_id: str, key: str) -> None:
        """Delete the key's record (an expired one, before the key is used again)."""
        ...

    def purge(self, created_before: datetime) -> None:
        """Forget keys created before `created_before` (they have expired)."""
        ...
