"""The outbox relays: hand committed events to the job queue, in order, in coarse batches.

Why at least once: the queue is not part of the database transaction, so there is no way to
enqueue and mark a row dispatched atomically. The relay enqueues first and marks after; a crash
in between leaves the rows pending and the next relay (e.g. after a restart) sends them again.
The other order could lose a message, which no subscriber could ever notice. Subscribers are
idempotent, so a duplicate costs work, never money.

A queue that lives in process memory (embedded mode) loses its jobs with the process, so
there `AcknowledgingRelay` deletes a row only once its job has run: after a kill -9 everything
not yet processed is still pending and is sent again on start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from backend.application.messaging_ports import CommitSignal, JobQueue
from backend.application.metrics_ports import CommandObserver, FinishedCommand
from backend.application.ports import OutboxMessage, StoredEvent, UnitOfWorkFactory

#: Seconds between the acknowledging relay's reads of the whole outbox (see `rescan_every`).
RESCAN_SECONDS = 5.0


def signalling_commits(observe: CommandObserver, signal: CommitSignal) -> CommandObserver:
    """A CommandRunner observer: `observe`, then wake the relays when the command committed
    events (so outbox rows) - the runner reports only after its commit."""

    def finished(command: FinishedCommand) -> None:
        observe(command)
        if command.events:
            signal.notify()

    return finished


class Relay(Protocol):
    """What the relay loop of a process drives, whichever kind of relay it is."""

    def relay_once(self) -> int:
        """Enqueue what is pending (a bounded amount); the number of events sent."""
        ...

    def relay_all(self) -> int:
        """Relay until nothing is pending."""
        ...


def _enqueue(queue: JobQueue, events: list[StoredEvent], size: int) -> None:
    """One job per `size` events, in one call (one round trip where the queue can)."""
    queue.enqueue_batches([events[i : i + size] for i in range(0, len(events), size)])


def _relay_all(relay_once: Callable[[], int]) -> int:
    total = sent = relay_once()
    while sent:
        sent = relay_once()
        total += sent
    return total


@dataclass
class OutboxRelay:
    """Claims pending rows, enqueues them and deletes them in one transaction: for a queue
    that keeps its jobs (rq), so a row is done with once its job is enqueued."""

    uow_factory: UnitOfWorkFactory
    queue: JobQueue
    batch_size: int = 100
    max_batches: int = 10

    def relay_once(self) -> int:
        """Enqueue up to `max_batches` batches of pending events; the number of events sent."""
        with self.uow_factory() as uow:
            pending = uow.outbox.pending(self.batch_size * self.max_batches)
            if not pending:
                return 0
            _enqueue(self.queue, [message.event for message in pending], self.batch_size)
            uow.outbox.mark_dispatched([message.outbox_id for message in pending])
            uow.commit()
            return len(pending)

    def relay_all(self) -> int:
        """Relay until nothing is pending (at start-up, and in tests)."""
        return _relay_all(self.relay_once)


@dataclass
class AcknowledgingRelay:
    """Relays rows past a cursor and deletes each once its job ran (`acknowledge`): for a
    queue in process memory, whose jobs a crash loses.

    Polls read only the rows above the cursor (the highest row enqueued), without the write
    lock (`read_uow_factory`), so a poll costs the same however many rows are in flight. Every
    `rescan_every` seconds a poll reads from the start instead, for a row that committed late
    below the cursor (possible on PostgreSQL; SQLite commits in position order).
    """

    uow_factory: UnitOfWorkFactory
    queue: JobQueue
    #: Units of work for the relay's reads (embedded: SQLite transactions begun DEFERRED).
    read_uow_factory: UnitOfWorkFactory | None = None
    batch_size: int = 100
    max_batches: int = 10
    rescan_every: float = RESCAN_SECONDS
    monotonic: Callable[[], float] = time.monotonic
    #: Outbox ids by position, enqueued and not acknowledged yet.
    _in_flight: dict[int, int] = field(default_factory=dict, repr=False)
    _cursor: int = field(default=0, repr=False)
    _rescan_at: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def relay_once(self) -> int:
        """Enqueue up to `max_batches` batches of events not in flight; the number sent."""
        fresh = self._claim()
        if not fresh:
            return 0
        try:
            _enqueue(self.queue, [message.event for message in fresh], self.batch_size)
        except BaseException:
            self._forget(fresh)  # not enqueued: the next poll sends them
            raise
        with self._lock:
            self._cursor = max(self._cursor, fresh[-1].outbox_id)
        return len(fresh)

    def relay_all(self) -> int:
        """Relay until nothing is pending (at start-up, and in tests)."""
        return _relay_all(self.relay_once)

    def acknowledge(self, events: Sequence[StoredEvent]) -> None:
        """A job delivered these events: delete their rows, then stop tracking them."""
        with self._lock:
            ids = [self._in_flight[e.position] for e in events if e.position in self._in_flight]
        if not ids:
            return
        with self.uow_factory() as uow:
            uow.outbox.mark_dispatched(ids)
            uow.commit()
        # Only now: a poll that found a row neither deleted nor in flight would send it again.
        with self._lock:
            for event in events:
                self._in_flight.pop(event.position, None)

    def _claim(self) -> list[OutboxMessage]:
        # Read and filter under the lock: an acknowledgement that commits during the read
        # stops tracking its rows only after the filter ran, so a read that still saw them
        # finds them in flight.
        with self._lock:
            fresh = self._not_in_flight(self._read(0)) if self._rescan_due() else []
            return fresh or self._not_in_flight(self._read(self._cursor))

    def _not_in_flight(self, pending: list[OutboxMessage]) -> list[OutboxMessage]:
        fresh = [m for m in pending if m.event.position not in self._in_flight]
        self._in_flight.update((m.event.position, m.outbox_id) for m in fresh)
        return fresh

    def _rescan_due(self) -> bool:
        now = self.monotonic()
        if now < self._rescan_at:
            return False
        self._rescan_at = now + self.rescan_every
        return True

    def _read(self, after: int) -> list[OutboxMessage]:
        with (self.read_uow_factory or self.uow_factory)() as uow:
            return uow.outbox.pending(self.batch_size * self.max_batches, after=after)

    def _forget(self, pending: list[OutboxMessage]) -> None:
        with self._lock:
            for message in pending:
                self._in_flight.pop(message.event.position, None)
