"""Message dispatch: an explicit registry from event type to its subscribers.

The outbox carries the events of commands (accounts opened, deposits, transfers requested...)
to what reacts to them after commit: today the push notifier. The transfer engine's own
events never come this way (it reacts to them in the pass that commits them).

Delivery is at least once (the relay may hand a batch over twice, a job may be retried), so
every subscriber must be idempotent. A subscriber that raises fails the whole job, which the
queue retries with backoff and finally keeps as a failed job: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.application.ports.event_store import EventMetadata, StoredEvent

#: Reacts to one committed event.
Subscriber = Callable[[StoredEvent], None]
#: Runs one subscriber on one event: the place to wrap every delivery (e.g. in a log context).
Delivery = Callable[[Subscriber, StoredEvent], None]


def call_subscriber(subscriber: Subscriber, event: StoredEvent) -> None:
    """The plain delivery: call the subscriber."""
    subscriber(event)


@dataclass
class MessageDispatcher:
    """Runs every subscriber of each event of a batch, in order."""

    subscribers: dict[str, list[Subscriber]] = field(default_factory=dict)
    #: Called after each delivered batch, e.g. to wake this process's relay: the batch's
    #: steps just committed new events, so the next step need not wait for a poll.
    after_dispatch: Sequence[Callable[[], None]] = ()
    #: Called with each whole batch once its events were delivered (the push notifier).
    batch_subscribers: list[Callable[[Sequence[StoredEvent]], None]] = field(default_factory=list)
    deliver: Delivery = call_subscriber

    def subscribe(self, type_name: str, subscriber: Subscriber) -> None:
        """Run `subscriber` on every event of that type (after those subscribed before)."""
        self.subscribers.setdefault(type_name, []).append(subscriber)

    def subscribe_all(self, type_names: Iterable[str], subscriber: Subscriber) -> None:
        """One subscriber (e.g. a projection follower) for several event types."""
        for type_name in type_names:
            self.subscribe(type_name, subscriber)

    def dispatch(self, batch: Iterable[StoredEvent]) -> None:
        """Deliver each event to its subscribers; the first failure aborts the batch (retried)."""
        batch = list(batch)
        for event in batch:
            for subscriber in self.subscribers.get(event.type, ()):
                self.deliver(subscriber, event)
        for hook in self.after_dispatch:
            hook()
        for batch_subscriber in self.batch_subscribers:
            batch_subscriber(batch)


# -- the wire format of a queued event: plain JSON-ready data, not pickled objects ----------


def event_to_message(event: StoredEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event_id": event.event_id,
        "stream_id": event.stream_id,
        "stream_type": event.stream_type,
        "version": event.version,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata.to_dict(),
        "occurred_at": event.occurred_at.isoformat(),
    }  # no `hash`: no handler needs it, and workers of the release before it could not read it


def event_from_message(message: dict[str, Any]) -> StoredEvent:
    fields = dict(message)
    fields["metadata"] = EventMetadata.from_dict(message["metadata"])
    fields["occurred_at"] = datetime.fromisoformat(message["occurred_at"])
    return StoredEvent(**fields)


def build_dispatcher(
    after_dispatch: Sequence[Callable[[], None]] = (), deliver: Delivery = call_subscriber
) -> MessageDispatcher:
    """A dispatcher without subscribers yet (they are added while building)."""
    return MessageDispatcher(after_dispatch=after_dispatch, deliver=deliver)
