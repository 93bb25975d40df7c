"""The outbox relay: hands committed events to the job queue, in order, in coarse batches.

Why at least once: the queue is not part of the database transaction, so there is no way to
enqueue and mark a row dispatched atomically. The relay enqueues first and marks after; a crash
in between leaves the rows pending and the next relay (e.g. after a restart) sends them again.
The other order could lose a message, which no subscriber could ever notice. Subscribers are
idempotent, so a duplicate costs work, never money.

A queue that lives in process memory (embedded mode) loses its jobs with the process, so
there the relay marks a row only once its job has run (`acknowledge_after_processing`):
after a kill -9 everything not yet processed is still pending and is sent again on start.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import JobQueue
from backend.application.ports.outbox import OutboxMessage
from backend.application.ports.unit_of_work import UnitOfWorkFactory


@dataclass
class OutboxRelay:
    """Moves pending outbox rows to the queue: one job per `batch_size` events."""

    uow_factory: UnitOfWorkFactory
    queue: JobQueue
    batch_size: int = 100
    max_batches: int = 10
    #: Mark rows when their job succeeded (call `acknowledge`) instead of when enqueued.
    acknowledge_after_processing: bool = False
    #: Outbox ids by position, enqueued and not acknowledged yet (with the flag only).
    _in_flight: dict[int, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def relay_once(self) -> int:
        """Enqueue up to `max_batches` batches of pending events; the number of events sent."""
        with self.uow_factory() as uow:
            pending = self._not_in_flight(uow.outbox.pending(self.batch_size * self.max_batches))
            if not pending:
                return 0
            try:
                self._enqueue([message.event for message in pending])
            except BaseException:
                self._forget(pending)  # not enqueued: the next poll sends them
                raise
            if not self.acknowledge_after_processing:
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

    def acknowledge(self, events: Sequence[StoredEvent]) -> None:
        """A job delivered these events: their rows need not be sent again."""
        with self._lock:
            ids = [self._in_flight.pop(e.position) for e in events if e.position in self._in_flight]
        if ids:
            with self.uow_factory() as uow:
                uow.outbox.mark_dispatched(ids)
                uow.commit()

    def _enqueue(self, events: list[StoredEvent]) -> None:
        size = self.batch_size
        self.queue.enqueue_batches([events[i : i + size] for i in range(0, len(events), size)])

    def _forget(self, pending: list[OutboxMessage]) -> None:
        with self._lock:
            for message in pending:
                self._in_flight.pop(message.event.position, None)

    def _not_in_flight(self, pending: list[OutboxMessage]) -> list[OutboxMessage]:
        if not self.acknowledge_after_processing:
            return pending
        with self._lock:
            fresh = [m for m in pending if m.event.position not in self._in_flight]
            self._in_flight.update((m.event.position, m.outbox_id) for m in fresh)
        return fresh
