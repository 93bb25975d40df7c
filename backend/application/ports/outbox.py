"""The outbox port: committed events waiting to be handed to the job queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from backend.application.ports.event_store import StoredEvent


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An appended event waiting to be handed to the queue."""

    outbox_id: int
    event: StoredEvent


class Outbox(Protocol):
    """Committed events not yet handed to the queue, in position order."""

    def pending(self, limit: int = 500, after: int = 0) -> list[OutboxMessage]:
        """Up to `limit` undispatched messages above position `after` (a relay's cursor),
        lowest position first."""
        ...

    def mark_dispatched(self, outbox_ids: Sequence[int]) -> None:
        """Forget these messages: the queue has them."""
        ...
