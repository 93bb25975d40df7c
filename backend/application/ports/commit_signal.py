"""The commit signal port: wakes the outbox relays, in whatever process, after a commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

#: Stops a wake-up registered with `CommitSignal.listen`.
StopWaking = Callable[[], None]


class CommitSignal(Protocol):
    """Tells the relays, in whatever process they run, that outbox rows were committed.

    A hint, not a message: a relay woken for nothing finds nothing, and one that misses a
    signal still polls now and then. It spares every commit waiting for the next poll, and
    every idle relay polling often enough to keep that wait short.
    """

    def notify(self) -> None:
        """Outbox rows were committed (call after the commit; cheap, never raises)."""
        ...

    def listen(self, wake: Callable[[], None]) -> StopWaking:
        """Call `wake` after notifications from any process (several may make one call)."""
        ...
