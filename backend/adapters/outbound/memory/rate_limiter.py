"""In-memory fixed-window rate limiter (embedded mode: one process holds every counter)."""

from __future__ import annotations

import math
import threading
from datetime import datetime

from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.rate_limits import RateDecision


class InMemoryRateLimiter:
    """RateLimiter port: per key, a count and the instant its window opened."""

    def __init__(self, clock: Clock, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._max_keys = max_keys

    def hit(self, key: str, limit: int, window: int) -> RateDecision:
        now = self._clock.now()
        with self._lock:
            started, count = self._live(key, window, now)
            self._windows[key] = (started, count + 1)
            self._bound(window, now)
        return self._decide(started, count + 1 <= limit, window, now)

    def peek(self, key: str, limit: int, window: int) -> RateDecision:
        now = self._clock.now()
        with self._lock:
            started, count = self._live(key, window, now)
        return self._decide(started, count < limit, window, now)

    def _live(self, key: str, window: int, now: datetime) -> tuple[datetime, int]:
        started, count = self._windows.get(key, (now, 0))
        if (now - started).total_seconds() >= window:
            return now, 0
        return started, count

    def _bound(self, window: int, now: datetime) -> None:
        # Forget lapsed windows once the table grows, so that random keys cannot exhaust memory.
        if len(self._windows) > self._max_keys:
            self._windows = {
                k: v for k, v in self._windows.items() if (now - v[0]).total_seconds() < window
            }

    @staticmethod
    def _decide(started: datetime, allowed: bool, window: int, now: datetime) -> RateDecision:
        if allowed:
            return RateDecision(True)
        remaining = window - (now - started).total_seconds()
        return RateDecision(False, max(1, math.ceil(remaining)))
