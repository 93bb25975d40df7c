"""The per-socket message budget: a token bucket refilled at a steady rate."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class MessageBudget:
    """At most `burst` frames at once, refilled at `rate` per second.

    Every frame a peer sends costs the socket loop some work, pings included; the budget keeps
    one flooding socket from taking the loop's time from the others (R17).
    """

    rate: float
    burst: float
    #: The time (time.monotonic) of the last refill; set by the first `take`.
    refilled_at: float | None = None
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float) -> bool:
        """Spend one frame's worth; False when the budget is exhausted."""
        if self.refilled_at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
