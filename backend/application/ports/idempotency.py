"""The idempotency-key ports: claims committed on their own, responses in the command's
transaction (a member of the unit of work)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response an idempotent command answered, kept to be replayed."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An Idempotency-Key of one user: claimed (no response yet) or completed."""

    user_id: str
    key: str
    fingerprint: str
    created_at: datetime
    lease_token: str
    lease_expires_at: datetime
    response: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Idempotency-key claims per user, each committed on its own (twins see it at once)."""

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert and commit `record`; None when claimed, else the record holding the key."""
        ...

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        """Replace `stale` (expired or abandoned) with `record` unless someone else did first."""
        ...

    def release(self, record: IdempotencyRecord) -> None:
        """Forget a claim whose command failed, so that the key can be used again."""
        ...

    def purge(self, created_before: datetime) -> None:
        """Forget keys created before `created_before` (they have expired)."""
        ...


class IdempotencyKeys(Protocol):
    """Idempotency keys inside a unit of work: a response commits with the command's effect."""

    def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        """Write the response in this transaction; raise IdempotencyKeyInUse when the claim
        was lost (its lease ran out and another request took the key over)."""
        ...
