"""Base of event-sourced aggregates: state is a fold of events; commands record new ones."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Self

from backend.domain.events import DomainEvent


class Aggregate:
    """Holds the stream version and the events recorded since the aggregate was loaded."""

    #: Name of the aggregate's kind of stream.
    STREAM_TYPE: ClassVar[str]
    #: Version of the snapshot state shape; snapshots of another version are ignored.
    STATE_VERSION: ClassVar[int]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self._pending: list[DomainEvent] = []

    def replay(self, events: Iterable[DomainEvent]) -> None:
        """Fold already-stored events into the state."""
        for event in events:
            self._apply(event)
            self.version += 1

    def collect_events(self) -> list[DomainEvent]:
        """Hand over the new events (oldest first) and forget them."""
        pending, self._pending = self._pending, []
        return pending

    @property
    def pending_events(self) -> tuple[DomainEvent, ...]:
        return tuple(self._pending)

    def _record(self, event: DomainEvent) -> None:
        self._apply(event)
        self._pending.append(event)

    def _apply(self, event: DomainEvent) -> None:
        raise NotImplementedError

    def snapshot_state(self) -> dict[str, Any]:
        """The state as plain JSON-ready data, for snapshots."""
        raise NotImplementedError

    @classmethod
    def from_snapshot(cls, aggregate_id: str, version: int, state: dict[str, Any]) -> Self:
        """The aggregate as `snapshot_state` described it at `version`."""
        raise NotImplementedError
