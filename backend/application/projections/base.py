"""What every projection is, and the one rule they share for applying a stream's events once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from backend.application.ports.event_store import EventStore, StoredEvent
from backend.application.ports.read_models import ReadModelStore


class Projection(Protocol):
    """Turns events into read-model changes; applying an event twice changes nothing."""

    #: The name of its checkpoint and of `hexbank projections rebuild NAME`.
    name: str

    def apply(
        self, events: Sequence[StoredEvent], store: ReadModelStore, history: EventStore
    ) -> None:
        """Apply `events` (global order) to `store`; `history` fills a stream's gaps."""
        ...


def unseen(
    events: Iterable[StoredEvent], versions: Mapping[str, int], history: EventStore
) -> list[StoredEvent]:
    """The events a fold of rows at `versions` has not applied yet, each stream contiguous.

    An event already reflected (version <= the row's) is dropped. An event beyond the next
    one means a writer skipped some (say the inline projector ran ahead of a follower), so
    the missing ones are read from the stream first: a row is always a fold of a prefix.
    """
    applied = dict(versions)
    found: list[StoredEvent] = []
    for event in events:
        current = applied.get(event.stream_id, 0)
        if event.version <= current:
            continue
        if event.version > current + 1:
            missing = event.version - current - 1
            found.extend(history.read_stream(event.stream_id, after_version=current, limit=missing))
        found.append(event)
        applied[event.stream_id] = event.version
    return found


def of_stream_type(events: Iterable[StoredEvent], stream_type: str) -> list[StoredEvent]:
    return [event for event in events if event.stream_type == stream_type]
