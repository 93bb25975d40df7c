"""The rate-limiter port: fixed-window request counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a request fits its budget, and when to retry when it does not."""

    allowed: bool
    retry_after: int = 0


class RateLimiter(Protocol):
    """Fixed-window counters: a window opens at a key's first hit and lasts `window` seconds."""

    def hit(self, key: str, limit: int, window: int) -> RateDecision:
        """Count one request against `key`; refused once more than `limit` fall in the window."""
        ...

    def peek(self, key: str, limit: int, window: int) -> RateDecision:
        """Whether `key` has budget left, without counting."""
        ...
