"""Admission control for transfers: a `202` is a promise that the transfer will be carried
out, so a transfer the backlog would not reach inside the transfer timeout is refused at the
door (`Backlogged`: 503 with Retry-After) instead of being accepted to time out.

Little's law gives the wait: pending transfers ÷ the rate at which transfers end. Both come
from one cheap read of the database (`TransferBacklog`), shared by every web process, taken
at most every `refresh_every` seconds per process; between two reads the process adds the
transfers it admitted itself.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.application.errors import ApplicationError
from backend.application.ports.transfer_work import BacklogSample, TransferBacklog

log = logging.getLogger(__name__)


class Backlogged(ApplicationError):
    """Transfers accepted earlier would not end in time with one more; retry later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many transfers are in progress; retry after Retry-After.")
        self.retry_after = max(1, retry_after)


@dataclass
class TransferAdmission:
    """Admits a transfer while the backlog, this one included, drains within `budget` of
    the transfer timeout at the measured rate; otherwise raises Backlogged."""

    backlog: TransferBacklog
    timeout: float
    #: Share of the timeout the backlog may take: the rest is margin for a rate that drops.
    budget: float = 0.5
    #: Pending transfers always admitted: near idle the rate says little.
    free_backlog: int = 50
    refresh_every: float = 0.2
    #: Seconds of history the rate is measured over.
    window: float = 5.0
    #: Shortest history a rate is trusted from (before it, transfers are admitted).
    min_span: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    #: (time, transfers ended since the first sample) of each sample within the window.
    _history: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    _pending: int = field(default=0, repr=False)
    _cursor: int | None = field(default=None, repr=False)
    _next_sample: float = field(default=-math.inf, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self) -> None:
        """Count one more transfer in, or raise Backlogged (with when to retry)."""
        self.refresh()
        self.admit()

    def refresh(self) -> None:
        """Measure the backlog again if it is due (a read of its own connection: call it
        before the command's transaction, not inside it)."""
        self._sample_if_due()

    def admit(self) -> None:
        """`check` without measuring: in memory only, so it can run inside a transaction."""
        with self._lock:
            wait = self._retry_after()
            if wait is None:
                self._pending += 1  # admitted here: counted until the next sample says more
                return
        raise Backlogged(wait)

    def _retry_after(self) -> int | None:
        if self._pending < self.free_backlog:
            return None
        rate = self._rate()
        if rate is None:
            return None
        allowed = self.budget * self.timeout
        drain = (self._pending + 1) / rate if rate > 0 else math.inf
        if drain <= allowed:
            return None
        return math.ceil(min(drain - allowed, self.timeout))

    def _rate(self) -> float | None:
        """Transfers ended per second over the window; None while the history is too short."""
        if not self._history:
            return None
        (first_at, first_ended), (last_at, last_ended) = self._history[0], self._history[-1]
        span = last_at - first_at
        return (last_ended - first_ended) / span if span >= self.min_span else None

    def _sample_if_due(self) -> None:
        now = self.monotonic()
        with self._lock:
            if now < self._next_sample:
                return
            self._next_sample = now + self.refresh_every  # the other threads go on meanwhile
            stale = not self._history or now - self._history[-1][0] > self.window
            after = None if stale else self._cursor
        try:
            sample = self.backlog.sample(after)
        except Exception:  # the command's own transaction will tell the client
            log.warning("could not measure the transfer backlog", exc_info=True)
            return
        self._record(now, sample, stale)

    def _record(self, now: float, sample: BacklogSample, stale: bool) -> None:
        with self._lock:
            if stale:
                self._history.clear()  # its cursor is too old to count from
            ended = self._history[-1][1] + sample.ended if self._history else 0
            self._history.append((now, ended))
            while len(self._history) > 2 and now - self._history[1][0] >= self.window:
                self._history.popleft()
            self._pending, self._cursor = sample.pending, sample.cursor
