"""Counts each transfer's end, from the follower side (a subscriber of the terminal events)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from backend.application.messaging import MessageDispatcher
from backend.application.ports.event_store import StoredEvent
from backend.application.ports.metrics import Metrics
from backend.application.ports.read_models import ReadModelReader
from backend.domain.events import event_type, event_types
from backend.domain.transfer import TRANSFER_ENDS, TransferCompleted

#: The `reason` of a transfer that did not fail.
NO_REASON: Final = "none"
TERMINAL_TRANSFER_EVENTS: Final = event_types(TRANSFER_ENDS)
_COMPLETED: Final = event_type(TransferCompleted)

log = logging.getLogger(__name__)


class TransferOutcomes:
    """Reports each transfer's end once, from the follower side: a dispatcher subscriber of
    the terminal events, not the command that appends them (which may still roll back).

    Delivery is at least once, so recently counted events are remembered and skipped.
    """

    def __init__(self, metrics: Metrics, reader: ReadModelReader, remember: int = 10_000) -> None:
        self._metrics = metrics
        self._reader = reader
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, event: StoredEvent) -> None:
        if not self._first_time(event.event_id):
            return
        status = "completed" if event.type == _COMPLETED else "failed"
        reason = str(event.data.get("reason") or NO_REASON)
        try:
            self._metrics.transfer_finished(status, reason, self._seconds_since_request(event))
        except Exception:  # a metric is never worth failing (and retrying) a job
            log.warning("could not count the end of transfer %s", event.stream_id, exc_info=True)

    def _first_time(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)
            return True

    def _seconds_since_request(self, event: StoredEvent) -> float:
        # The stream's first event is the request; reading it takes no write lock.
        first: Sequence[StoredEvent] = self._reader.stream(event.stream_id, 0, 1)
        requested_at: datetime = first[0].occurred_at if first else event.occurred_at
        return max(0.0, (event.occurred_at - requested_at).total_seconds())


def subscribe_transfer_outcomes(dispatcher: MessageDispatcher, outcomes: TransferOutcomes) -> None:
    """Count every transfer that reaches its end."""
    dispatcher.subscribe_all(TERMINAL_TRANSFER_EVENTS, outcomes)
