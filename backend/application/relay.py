"""The outbox relay: hands committed events to the job queue, in order, in coarse batches.

Why at least once: the queue is not part of the database transaction, so there is no way to
enqueue and mark a row dispatched atomically. The relay enqueues first and marks after; a crash
in between leaves the rows pending and the next relay (e.g. after a restart) sends them again.
The other order could lose a message, which no subscriber could ever notice. Subscribers are
idempotent, so a duplicate costs work, never money.

A queue that lives in process memory (embedded mode) loses its jobs with the process, so
there the relay marks a row only once its job has run (through `InFlightRows`, which the
queue acknowledges to): after a kill -9 everything not yet processed is still pending and is
sent again on start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import JobQueue
from backend.application.ports.metrics import FinishedCommand
from backend.application.ports.outbox import OutboxMessage
from backend.application.ports.unit_of_work import UnitOfWorkFactory


class InFlightRows:
    """Outbox rows handed to a queue that dies with its process, marked dispatched only once
    their job ran: the queue calls `acknowledge` (its success hook), the relay skips them."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory
        self._rows: dict[int, int] = {}  # outbox id by position, enqueued, not acknowledged
        self._lock = threading.Lock()

    def take_fresh(self, pending: list[OutboxMessage]) -> list[OutboxMessage]:
        """The pending messages not already in flight, now counted as in flight."""
        with self._lock:
            fresh = [m for m in pending if m.event.position not in self._rows]
            self._rows.update((m.event.position, m.outbox_id) for m in fresh)
        return fresh

    def acknowledge(self, events: Sequence[StoredEvent]) -> None:
        """A job delivered these events: their rows need not be sent again."""
        with self._lock:
            rows = {e.position: self._rows[e.position] for e in events if e.position in self._rows}
        if rows:
            with self._uow_factory() as uow:
                uow.outbox.mark_dispatched(list(rows.values()))
                uow.commit()
        # Only once marked: until then the relay must still skip them, not send them again.
        self.forget_positions(rows)

    def forget_positions(self, positions: Iterable[int]) -> None:
        """Stop counting these positions as in flight."""
        with self._lock:
            for position in positions:
                self._rows.pop(position, None)


@dataclass
class OutboxRelay:
    """Moves pending outbox rows to the queue: one job per `batch_size` events."""

    uow_factory: UnitOfWorkFactory
    queue: JobQueue
    batch_size: int = 100
    max_batches: int = 10
    #: With a queue that dies with its process: rows are marked when their job succeeded
    #: (the queue acknowledges them here) instead of when enqueued.
    in_flight: InFlightRows | None = None

    def relay_once(self) -> int:
        """Enqueue up to `max_batches` batches of pending events; the number of events sent."""
        with self.uow_factory() as uow:
            pending = self._not_in_flight(uow.outbox.pending(self.batch_size * self.max_batches))
            if not pending:
                return 0
            try:
                self._enqueue([message.event for message in pending])
            except BaseException:
                if self.in_flight is not None:
                    # Not enqueued: the next poll sends them.
                    self.in_flight.forget_positions(m.event.position for m in pending)
                raise
            if self.in_flight is None:
                uow.outbox.mark_dispatched([message.outbox_id for message in pending])
                uow.commit()
            return len(pending)

    def relay_all(self) -> int:
        """Relay until nothing is pending (at start-up, and in tests)."""
        total = sent = self.relay_once()
        while sent:
            sent = self.relay_once()
            total += sent
        return total

    def _enqueue(self, events: list[StoredEvent]) -> None:
        size = self.batch_size
        self.queue.enqueue_batches([events[i : i + size] for i in range(0, len(events), size)])

    def _not_in_flight(self, pending: list[OutboxMessage]) -> list[OutboxMessage]:
        return pending if self.in_flight is None else self.in_flight.take_fresh(pending)


class Wakeup:
    """Wakes a polling loop before its idle wait ends; for the relay: events were just committed,
    so that they reach the queue now rather than at its next poll (a saga step starts at once)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wake(self) -> None:
        """Relay now (also ends a wait early when the loop is stopping)."""
        self._event.set()

    def after_command(self, finished: FinishedCommand) -> None:
        """A command observer: wake the relay when the command appended events."""
        if finished.events:
            self.wake()

    def wait(self, seconds: float) -> None:
        """Wait until woken or `seconds` have passed, then rearm."""
        self._event.wait(seconds)
        self._event.clear()
