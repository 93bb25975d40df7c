"""The metrics port: what the application reports (commands, transfer outcomes).

The application says *what happened* through `Metrics` and a `CommandObserver`; an adapter
(Prometheus) decides how it is counted. Gauges that describe state (queue depth, projection
lag, open sockets) are read by the adapter at scrape time and need nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from backend.application.ports.event_store import StoredEvent

#: Command outcomes: appended events / appended nothing / refused by a rule / gave up on
#: optimistic-concurrency conflicts / failed unexpectedly.
COMMITTED: Final = "committed"
UNCHANGED: Final = "unchanged"
REJECTED: Final = "rejected"
CONFLICT: Final = "conflict"
ERROR: Final = "error"


class Metrics(Protocol):
    """Counts what the application did; implementations must be thread-safe and never raise."""

    def command_finished(self, command_type: str, outcome: str, seconds: float) -> None:
        """One command ran to `outcome` (COMMITTED, UNCHANGED, ...) in `seconds`."""
        ...

    def transfer_finished(self, status: str, reason: str, seconds: float) -> None:
        """A transfer ended (`completed` or `failed` for `reason`) `seconds` after its request."""
        ...


@dataclass(frozen=True, slots=True)
class FinishedCommand:
    """What the CommandBus reports after each command (all attempts included); `command_type`
    is the command's class name."""

    command_type: str
    outcome: str
    seconds: float
    #: The events the committed attempt appended (empty unless COMMITTED).
    events: tuple[StoredEvent, ...] = ()
    #: Whether those events went to the outbox (the transfer engine's do not).
    published: bool = True


#: Told by the CommandBus of each command; must not raise (the bus guards anyway).
CommandObserver = Callable[[FinishedCommand], None]
