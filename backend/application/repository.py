"""Loads aggregates from the latest snapshot plus later events; saves new events with an
expected version, taking a snapshot every N events.

A repository may take aggregates from a per-process cache instead (the state a command of
this process committed last). A cached aggregate may be stale (another process wrote its
stream since): saving it then fails on the (stream, version) guard and the command is retried
from the store; a command that read a cached aggregate without saving it, or was refused,
cannot tell, so the command bus runs it again without the cache (`unverified`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from backend.application.bounded import RecentValues
from backend.application.event_codec import EventCodec
from backend.application.event_hash import GENESIS
from backend.application.ports.clock_and_ids import Clock, IdGenerator
from backend.application.ports.event_store import (
    EventMetadata,
    NewEvent,
    Snapshot,
    StoredEvent,
    StreamAppend,
)
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.snapshot_retention import superseded
from backend.domain.aggregate import Aggregate
from backend.domain.events import DomainEvent

A = TypeVar("A", bound=Aggregate)

#: Events between two snapshots of a stream (HEXBANK_SNAPSHOT_EVERY overrides it).
DEFAULT_SNAPSHOT_EVERY: Final = 100


@dataclass(frozen=True, slots=True)
class Cached(Generic[A]):
    """An aggregate as a command left it, with its stream's hash-chain head."""

    aggregate: A
    head_hash: str | None


@dataclass
class Repository(Generic[A]):
    """An event-sourced repository for one aggregate type within one unit of work."""

    aggregate_class: type[A]
    uow: UnitOfWork
    codec: EventCodec
    clock: Clock
    ids: IdGenerator
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    #: Streams this command conflicted on before: wait for their other writers before loading.
    hot: frozenset[str] = frozenset()
    #: The process's latest committed aggregates, taken from and given back (None: no cache).
    cache: RecentValues[str, Cached[A]] | None = None
    appended: list[StoredEvent] = field(default_factory=list)
    #: Every event saved here, as `save` returned it (not yet written when deferred).
    saved: list[StoredEvent] = field(default_factory=list)
    #: Whether saved events go to the outbox (False: the command reacts to them itself).
    publish: bool = True
    #: Shared by the repositories of one unit of work: once active, their saves are only
    #: staged there, and written together by its `flush` in the order they were made.
    staging: Staging | None = None
    #: Identity map: an aggregate loaded in this unit of work is handed out again as it is.
    _loaded: dict[str, A] = field(default_factory=dict, init=False, repr=False)
    #: Ids of the aggregates taken from the cache, and of those saved with new events.
    _cached: set[str] = field(default_factory=set, init=False, repr=False)
    _saved: set[str] = field(default_factory=set, init=False, repr=False)
    #: The hash chain's head of each stream loaded or saved here: the next append continues it
    #: without reading it again (valid whenever that append succeeds: it expects this version).
    _heads: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def get(self, aggregate_id: str, *, cached: bool = True) -> A | None:
        """The aggregate as of its latest event, or None when the stream is empty or of another
        kind (a transfer's id asked of the accounts). Within one unit of work the same object
        comes back (with what was recorded and saved on it). `cached=False`: from the store."""
        if (known := self._loaded.get(aggregate_id)) is not None:
            return known
        if cached and (cached_one := self._take_cached(aggregate_id)) is not None:
            self._loaded[aggregate_id] = cached_one
            return cached_one
        aggregate = self._load(aggregate_id)
        if aggregate is not None:
            self._loaded[aggregate_id] = aggregate
        return aggregate

    @property
    def used_cache(self) -> bool:
        """Whether any aggregate of this unit of work came from the cache."""
        return bool(self._cached)

    @property
    def unverified(self) -> bool:
        """Whether a cached aggregate was read but not saved: its staleness went unchecked."""
        return not self._cached <= self._saved

    def keep_in_cache(self) -> None:
        """After the commit: the aggregates as this unit of work left them, for the next."""
        if self.cache is not None:
            for aggregate_id, aggregate in self._loaded.items():
                if not aggregate.pending_events:  # changed but not saved: not what committed
                    self.cache.put(aggregate_id, Cached(aggregate, self._heads.get(aggregate_id)))

    def _take_cached(self, aggregate_id: str) -> A | None:
        # Taken, not copied: no other command can change the object; it comes back on commit.
        if self.cache is None or aggregate_id in self.hot:
            return None
        cached = self.cache.take(aggregate_id)
        if cached is None:
            return None
        self._cached.add(aggregate_id)
        if cached.head_hash is not None:  # the next append continues the chain without a read
            self._heads[aggregate_id] = cached.head_hash
        return cached.aggregate

    def _load(self, aggregate_id: str) -> A | None:
        cls, codec = self.aggregate_class, self.codec
        if aggregate_id in self.hot:
            self.uow.events.queue_for(aggregate_id)
        history = self.uow.events.history(aggregate_id)
        aggregate = self._from_snapshot(aggregate_id, history.snapshot)
        if aggregate is None:  # a snapshot of an older state shape: fold the whole stream
            aggregate = cls(aggregate_id)
            history = self.uow.events.history(aggregate_id, from_snapshot=False)
        events = history.events
        if not events and aggregate.version == 0:
            return None
        if events and events[0].stream_type != cls.STREAM_TYPE:
            return None  # the id names a stream of another kind (a transfer id as an account id)
        if history.head_hash is not None:
            self._heads[aggregate_id] = history.head_hash
        aggregate.replay([codec.decode(e.type, e.schema_version, e.data) for e in events])
        return aggregate

    def save(self, aggregate: A, metadata: EventMetadata) -> list[StoredEvent]:
        """Append the aggregate's new events after the version it was loaded at. Deferred,
        they are staged and the events returned have no position yet (0): `flush` writes
        them."""
        events = aggregate.collect_events()
        if not events:
            return []
        now = self.clock.now()
        new = [self._encode(event, metadata, now) for event in events]
        head = GENESIS if aggregate.version == 0 else self._heads.get(aggregate.id)
        save = StreamAppend(
            aggregate.id, self.aggregate_class.STREAM_TYPE, aggregate.version, new, head
        )
        if self.staging is not None and self.staging.active:
            self.staging.saves.append((self, save))
            stored = [_unwritten(save, index) for index in range(len(new))]
        else:
            stored = self.uow.events.append_streams([save], publish=self.publish)
            self.written(stored)
        before, aggregate.version = aggregate.version, aggregate.version + len(events)
        if aggregate.version // self.snapshot_every > before // self.snapshot_every:
            self._snapshot(aggregate)
        self.saved.extend(stored)
        self._saved.add(aggregate.id)
        self._loaded.setdefault(aggregate.id, aggregate)  # a new one too: known from now on
        return stored

    def written(self, stored: list[StoredEvent]) -> None:
        """These events of this repository's streams are now in the store."""
        for event in stored:
            self._heads[event.stream_id] = event.hash
        self.appended.extend(stored)

    def _from_snapshot(self, aggregate_id: str, snapshot: Snapshot | None) -> A | None:
        """A fresh aggregate, or the snapshot's state; None if the snapshot is of no use."""
        cls = self.aggregate_class
        if snapshot is None:
            return cls(aggregate_id)
        if (snapshot.stream_type, snapshot.state_version) != (cls.STREAM_TYPE, cls.STATE_VERSION):
            return None
        return cls.from_snapshot(aggregate_id, snapshot.version, snapshot.state)

    def _snapshot(self, aggregate: A) -> None:
        """A new snapshot beside the stream's earlier ones, which thin out with age."""
        cls = self.aggregate_class
        store = self.uow.snapshots
        store.save(
            Snapshot(
                aggregate.id,
                cls.STREAM_TYPE,
                aggregate.version,
                cls.STATE_VERSION,
                aggregate.snapshot_state(),
            )
        )
        if dropped := superseded(store.versions(aggregate.id), self.snapshot_every):
            store.forget(aggregate.id, dropped)

    def _encode(self, event: DomainEvent, metadata: EventMetadata, now: datetime) -> NewEvent:
        type_name, schema_version, data = self.codec.encode(event)
        return NewEvent(self.ids.new_id(), type_name, schema_version, data, metadata, now)


def _unwritten(save: StreamAppend, index: int) -> StoredEvent:
    """A staged event as it will be stored, but for its position (0) and hash ("")."""
    event = save.events[index]
    return StoredEvent(
        0, event.event_id, save.stream_id, save.stream_type, save.expected_version + 1 + index,
        event.type, event.schema_version, event.data, event.metadata, event.occurred_at,
    )  # fmt: skip


@dataclass
class Staging:
    """The saves of one unit of work's repositories, held back once `active` and written as
    one multi-stream append by `flush` (a transfer engine's round: one statement, whatever its
    number of saves, positions in the order of the saves)."""

    active: bool = False
    saves: list[tuple[Repository[Any], StreamAppend]] = field(default_factory=list)

    def flush(self, uow: UnitOfWork) -> None:
        saves, self.saves = self.saves, []
        if not saves:
            return
        publish = all(repository.publish for repository, _ in saves)
        stored = uow.events.append_streams([save for _, save in saves], publish=publish)
        owners = {save.stream_id: repository for repository, save in saves}
        for repository in {id(r): r for r in owners.values()}.values():
            repository.written([e for e in stored if owners[e.stream_id] is repository])
