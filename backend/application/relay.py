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

Relays are woken when events commit: in their own process through `Wakeup`, from web processes
through the `CommitSignal` (distributed mode); they poll only as a fallback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from backend.application.ports.commit_signal import CommitSignal
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.job_queue import JobQueue
from backend.application.ports.metrics import CommandObserver, FinishedCommand
from backend.application.ports.outbox import OutboxMessage
from backend.application.ports.unit_of_work import UnitOfWorkFactory

#: Seconds between the in-flight relay's reads of the whole outbox (see `InFlightRows`).
RESCAN_SECONDS = 5.0


class InFlightRows:
    """Outbox rows handed to a queue that dies with its process, marked dispatched only once
    their job ran: the queue calls `acknowledge` (its success hook), the relay skips them.

    The relay's polls (`claim`) read only the rows above a cursor (the highest row enqueued),
    without the write lock (`read_uow_factory`: on SQLite a transaction begun DEFERRED), so a
    poll costs the same however many rows are in flight. Every `rescan_every` seconds a poll
    reads from the start instead, for a row that committed late below the cursor (possible on
    PostgreSQL; SQLite commits in position order).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        read_uow_factory: UnitOfWorkFactory | None = None,
        rescan_every: float = RESCAN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self._read_uow_factory = read_uow_factory or uow_factory
        self._rescan_every, self._monotonic = rescan_every, monotonic
        self._rows: dict[int, int] = {}  # outbox id by position, enqueued, not acknowledged
        self._cursor, self._rescan_at = 0, 0.0
        self._lock = threading.Lock()

    def claim(self, limit: int) -> list[OutboxMessage]:
        """Up to `limit` pending messages not in flight yet, now counted as in flight."""
        # Read and filter under the lock: an acknowledgement that commits during the read
        # stops counting its rows only after the filter ran, so a read that still saw them
        # finds them in flight, never as pending again.
        with self._lock:
            fresh = self._take_fresh(self._read(limit, 0)) if self._rescan_due() else []
            return fresh or self._take_fresh(self._read(limit, self._cursor))

    def enqueued(self, messages: Sequence[OutboxMessage]) -> None:
        """These reached the queue: polls read past them from now on."""
        with self._lock:
            self._cursor = max([self._cursor, *(m.outbox_id for m in messages)])

    def _take_fresh(self, pending: list[OutboxMessage]) -> list[OutboxMessage]:
        fresh = [m for m in pending if m.event.position not in self._rows]
        self._rows.update((m.event.position, m.outbox_id) for m in fresh)
        return fresh

    def _read(self, limit: int, after: int) -> list[OutboxMessage]:
        with self._read_uow_factory() as uow:
            return uow.outbox.pending(limit, after=after)

    def _rescan_due(self) -> bool:
        now = self._monotonic()
        if now < self._rescan_at:
            return False
        self._rescan_at = now + self._rescan_every
        return True

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
        if self.in_flight is not None:
            return self._relay_in_flight(self.in_flight)
        with self.uow_factory() as uow:
            pending = uow.outbox.pending(self.batch_size * self.max_batches)
            if not pending:
                return 0
            self._enqueue([message.event for message in pending])
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

    def _relay_in_flight(self, in_flight: InFlightRows) -> int:
        pending = in_flight.claim(self.batch_size * self.max_batches)
        if not pending:
            return 0
        try:
            self._enqueue([message.event for message in pending])
        except BaseException:
            in_flight.forget_positions(m.event.position for m in pending)  # the next poll
            raise
        in_flight.enqueued(pending)
        return len(pending)


class Wakeup:
    """Wakes a polling loop before its idle wait ends; for the relay: events were just committed,
    so that they reach the queue now rather than at its next poll (a saga step starts at once)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wake(self) -> None:
        """Relay now (also ends a wait early when the loop is stopping)."""
        self._event.set()

    def after_command(self, finished: FinishedCommand) -> None:
        """A command observer: wake the relay when the command put events in the outbox."""
        if finished.events and finished.published:
            self.wake()

    def wait(self, seconds: float) -> None:
        """Wait until woken or `seconds` have passed, then rearm."""
        self._event.wait(seconds)
        self._event.clear()


def signalling_commits(signal: CommitSignal) -> CommandObserver:
    """A command observer for web processes whose relays run elsewhere (distributed mode):
    tell them when the command appended events (the runner reports after its commit)."""

    def after_command(finished: FinishedCommand) -> None:
        if finished.events and finished.published:
            signal.notify()

    return after_command
