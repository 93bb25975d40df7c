"""The projection follower: tails the event log and applies it page by page.

Each page is one transaction holding the read-model changes and the new checkpoints, so a
crash at any point leaves either both or neither. The event store's `read_all` never returns a
position below which an event could still commit (see the SQLAlchemy event store), so reading
`position > checkpoint` never skips an event that committed late.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from backend.application.ports.read_models import ReadModelReader
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.projections.base import Projection

PAGE_SIZE = 1000

log = logging.getLogger(__name__)


@dataclass
class ProjectionRunner:
    """Applies every projection to the events after its checkpoint."""

    uow_factory: UnitOfWorkFactory
    projections: Sequence[Projection]
    #: Reads head and checkpoints without opening a write transaction (use the primary).
    reader: ReadModelReader
    page_size: int = PAGE_SIZE

    def run_page(self) -> int:
        """Apply the next page of events; returns how many events it read (0: caught up)."""
        with self.uow_factory() as uow:
            store = uow.read_models
            checkpoints = {p.name: store.checkpoints.position(p.name) for p in self.projections}
            events = uow.events.read_all(min(checkpoints.values()), self.page_size)
            if not events:
                return 0
            for projection in self.projections:
                fresh = [e for e in events if e.position > checkpoints[projection.name]]
                if fresh:
                    projection.apply(fresh, store, uow.events)
                    store.checkpoints.save(projection.name, events[-1].position)
            uow.commit()
            return len(events)

    def tick(self) -> int:
        """One page if any projection lags, else nothing (for a polling loop: 0 means idle).

        The lag check only reads, so an idle follower never takes SQLite's write lock."""
        return self.run_page() if any(self.lag().values()) else 0

    def tick_backlog(self) -> int:
        """`tick` for a polling loop that should come back at once only while a backlog remains:
        the events read if the page was full, else 0 (wait for the next poll). Commands project
        their own events inline, so the follower is a safety net that reads in large pages
        rather than chasing every commit (on PostgreSQL each page briefly holds off appenders).
        """
        count = self.tick()
        return count if count >= self.page_size else 0

    def catch_up(self) -> int:
        """Apply pages until the head; returns the number of events read."""
        total = 0
        while count := self.run_page():
            total += count
        return total

    def lag(self) -> dict[str, int]:
        """Head position minus checkpoint, per projection (for metrics)."""
        head = self.reader.head_position()
        return {p.name: max(0, head - self.reader.checkpoint(p.name)) for p in self.projections}

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Follow the log until `stop` is set; idle polls only read, never lock."""
        while not stop.is_set():
            try:
                while not stop.is_set() and self.tick_backlog():
                    pass
            except Exception:  # a database hiccup must not end the follower: retry next poll
                log.exception("projection follower failed; retrying")
            stop.wait(poll_seconds)
