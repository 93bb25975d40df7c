"""The metrics port: what the application reports (commands, transfer outcomes), no-op by default.

Metrics are an outbound concern: the application says *what happened* through `Metrics` and a
`CommandObserver`; an adapter (Prometheus) decides how it is counted. Gauges that describe
state (queue depth, projection lag, open sockets) are read by the adapter at scrape time and
need nothing here.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

from backend.application.errors import ApplicationError, ConcurrentModification
from backend.application.ports import StoredEvent
from backend.domain.errors import DomainError

if TYPE_CHECKING:  # messaging imports the command bus, which imports this module
    from backend.application.messaging import MessageDispatcher
    from backend.application.read_models import ReadModelReader

#: Command outcomes: appended events / appended nothing / refused by a rule / gave up on
#: optimistic-concurrency conflicts / failed unexpectedly.
COMMITTED: Final = "committed"
UNCHANGED: Final = "unchanged"
REJECTED: Final = "rejected"
CONFLICT: Final = "conflict"
ERROR: Final = "error"
#: The `reason` of a transfer that did not fail.
NO_REASON: Final = "none"
TERMINAL_TRANSFER_EVENTS: Final = ("TransferCompleted", "TransferFailed")

log = logging.getLogger(__name__)


class Metrics(Protocol):
    """Counts what the application did; implementations must be thread-safe and never raise."""

    def command_finished(self, command_type: str, outcome: str, seconds: float) -> None:
        """One command ran to `outcome` (COMMITTED, UNCHANGED, ...) in `seconds`."""
        ...

    def transfer_finished(self, status: str, reason: str, seconds: float) -> None:
        """A transfer ended (`completed` or `failed` for `reason`) `seconds` after its request."""
        ...


class NullMetrics:
    """Metrics that count nothing (the default where no adapter is plugged in)."""

    def command_finished(self, command_type: str, outcome: str, seconds: float) -> None:
        """Ignore it."""

    def transfer_finished(self, status: str, reason: str, seconds: float) -> None:
        """Ignore it."""


@dataclass(frozen=True, slots=True)
class FinishedCommand:
    """What the CommandBus reports after each command (all attempts included); `command_type`
    is the command's class name."""

    command_type: str
    outcome: str
    seconds: float
    #: The events the committed attempt appended (empty unless COMMITTED).
    events: tuple[StoredEvent, ...] = ()


#: Told by the CommandBus of each command; must not raise (the bus guards anyway).
CommandObserver = Callable[[FinishedCommand], None]


def failure_outcome(error: BaseException) -> str:
    """The outcome of a command that raised `error`."""
    if isinstance(error, ConcurrentModification):
        return CONFLICT
    if isinstance(error, DomainError | ApplicationError):
        return REJECTED
    return ERROR


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
        status = "completed" if event.type == "TransferCompleted" else "failed"
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
