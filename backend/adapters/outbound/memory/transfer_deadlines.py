"""In-memory transfer-deadline adapters: overdue transfers derived from the committed log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.application.ports.event_store import StoredEvent
from backend.domain.events import event_type, event_types
from backend.domain.transfer import TRANSFER_ENDS, TransferRequested

_REQUESTED = event_type(TransferRequested)
_TERMINAL = frozenset(event_types(TRANSFER_ENDS))


class InMemoryOverdueTransfers:
    """OverdueTransfers over an InMemoryDatabase: a scan of the transfer streams.

    Scanning the committed log (instead of keeping a second index) cannot disagree with it,
    which is all the memory twin needs; the SQL adapter keeps a table for speed.
    """

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db

    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        with self._db.lock:
            streams = [list(events) for events in self._db.streams.values()]
        found = [
            (deadline, events[0].stream_id)
            for events in streams
            if events[0].type == _REQUESTED and events[-1].type not in _TERMINAL
            for deadline in [datetime.fromisoformat(events[0].data["deadline"])]
            if deadline < now
        ]
        return [transfer_id for _, transfer_id in sorted(found)[:limit]]


class InMemoryTransferDeadlines:
    """TransferDeadlines of an in-memory unit of work: nothing to write, since
    InMemoryOverdueTransfers reads the committed streams themselves."""

    def track(self, events: Sequence[StoredEvent]) -> None:
        """Nothing to do."""
