"""Request budgets: login-failure lockouts per email and per client address, and an optional
general limit per caller."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from backend.application.errors import ApplicationError
from backend.application.ports.rate_limits import RateDecision, RateLimiter

FIFTEEN_MINUTES = 15 * 60


class RateLimited(ApplicationError):
    """Over budget; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int, message: str = "too many requests") -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def _key(kind: str, value: str) -> str:
    # Hashed so that no email or address ends up verbatim in Redis or logs of its keys.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


@dataclass
class LoginThrottle:
    """Locks an email after 5 failures and an address after 100, each for 15 minutes."""

    limiter: RateLimiter
    per_email: int = 5
    per_address: int = 100
    window: int = FIFTEEN_MINUTES

    def check(self, email: str, address: str) -> None:
        """Raise RateLimited when either budget is spent (successes are not counted)."""
        for decision in (
            self.limiter.peek(_key("login-email", email), self.per_email, self.window),
            self.limiter.peek(_key("login-addr", address), self.per_address, self.window),
        ):
            _raise_unless_allowed(decision, "too many failed logins")

    def record_failure(self, email: str, address: str) -> None:
        self.limiter.hit(_key("login-email", email), self.per_email, self.window)
        self.limiter.hit(_key("login-addr", address), self.per_address, self.window)


@dataclass
class RequestThrottle:
    """The configurable general limit (`HEXBANK_RATE_LIMIT`), per user or client address."""

    limiter: RateLimiter
    limit: int
    period: int

    def check(self, caller: str) -> None:
        decision = self.limiter.hit(_key("requests", caller), self.limit, self.period)
        _raise_unless_allowed(decision, "request rate limit exceeded")


def _raise_unless_allowed(decision: RateDecision, message: str) -> None:
    if not decision.allowed:
        raise RateLimited(decision.retry_after, message)
