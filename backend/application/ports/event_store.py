"""The event store and snapshot ports, and the event records they carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Who and what caused an event: tracing ids carried by every event."""

    correlation_id: str | None = None
    causation_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "user_id": self.user_id,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventMetadata:
        keys = ("correlation_id", "causation_id", "user_id", "request_id")
        return cls(**{key: data.get(key) for key in keys})


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An encoded event on its way into a stream."""

    event_id: str
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """One save of a multi-stream append: `events` after the stream's `expected_version`
    (`previous_hash`: the hash there, when the caller knows it). A stream may come several
    times, each save continuing the one before it."""

    stream_id: str
    stream_type: str
    expected_version: int
    events: Sequence[NewEvent]
    previous_hash: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store holds it: global position plus place in its stream."""

    position: int
    event_id: str
    stream_id: str
    stream_type: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    occurred_at: datetime
    #: The stream's hash chain at this event (event_hash.py); "" where a reader skipped it.
    hash: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An aggregate's folded state at `version`, in the shape of `state_version`."""

    stream_id: str
    stream_type: str
    version: int
    state_version: int
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """What folding an aggregate needs of a stored event: no position, metadata or time."""

    version: int
    stream_type: str
    type: str
    schema_version: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StreamHistory:
    """What loading an aggregate reads: its latest snapshot (if used) and the events after it."""

    snapshot: Snapshot | None
    events: list[EventRecord]
    #: The hash of the stream's last event (the snapshot's when no event follows it), which
    #: the next append chains from; None for an empty stream.
    head_hash: str | None = None


class EventStore(Protocol):
    """Append-only streams with a global order; appends write the outbox in the same transaction."""

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
        """Append after `expected_version`, hashing each event onto the stream's chain;
        ConcurrencyError when the stream has moved. `previous_hash` is the hash at
        `expected_version` when the caller knows it (from `history`), saving a read.
        `publish=False`: no outbox rows (the appender reacts to these events itself)."""
        ...

    def append_streams(
        self, appends: Sequence[StreamAppend], *, publish: bool = True
    ) -> list[StoredEvent]:
        """Several saves, of one or more streams, written together in the given order (their
        positions follow it); ConcurrencyError when any stream moved (its id when known)."""
        ...

    def queue_for(self, stream_id: str) -> None:
        """Wait until no other transaction that queued for this stream is still open, and hold
        the place until this one ends (a hot stream's writers take turns, not retries); a
        no-op where writers run one at a time anyway."""
        ...

    def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events of one stream with version > `after_version`, oldest first."""
        ...

    def history(self, stream_id: str, *, from_snapshot: bool = True) -> StreamHistory:
        """The stream's latest snapshot and the events after it (without a snapshot, or with
        `from_snapshot=False`, every event), in one read: what loading an aggregate needs."""
        ...

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events of every stream after `after_position` in global order, never skipping
        one that a concurrent transaction commits late."""
        ...

    def head_position(self) -> int:
        """The highest committed position (0 when empty)."""
        ...


class SnapshotStore(Protocol):
    """Keeps snapshots of each stream: the latest (what loading an aggregate starts from) and
    the older ones that snapshot_retention keeps (what `as_of` starts from)."""

    def save(self, snapshot: Snapshot) -> None:
        """Keep `snapshot` beside its stream's earlier ones (the latest if it is newest)."""
        ...

    def load(self, stream_id: str) -> Snapshot | None:
        """The stream's latest snapshot, or None when it has none."""
        ...

    def versions(self, stream_id: str) -> list[int]:
        """The versions of the stream's kept snapshots, oldest first."""
        ...

    def forget(self, stream_id: str, versions: Sequence[int]) -> None:
        """Drop the stream's snapshots at `versions`."""
        ...
