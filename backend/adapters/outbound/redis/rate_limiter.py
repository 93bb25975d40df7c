"""Redis fixed-window rate limiter: counters shared by every process (distributed mode)."""

from __future__ import annotations

import redis

from backend.application.ports.rate_limits import RateDecision


class RedisRateLimiter:
    """RateLimiter port: INCR a key whose expiry, set at the first hit, is the window."""

    def __init__(self, client: redis.Redis, prefix: str = "hexbank:") -> None:
        self._client = client
        self._prefix = f"{prefix}rate:"

    def hit(self, key: str, limit: int, window: int) -> RateDecision:
        name = self._prefix + key
        pipe = self._client.pipeline(transaction=True)
        # SET NX opens the window only at the first hit (EXPIRE NX would need Redis 7).
        pipe.set(name, 0, ex=window, nx=True)
        pipe.incr(name)
        pipe.ttl(name)
        _, count, ttl = pipe.execute()
        return _decide(int(count) <= limit, int(ttl), window)

    def peek(self, key: str, limit: int, window: int) -> RateDecision:
        name = self._prefix + key
        pipe = self._client.pipeline(transaction=True)
        pipe.get(name)
        pipe.ttl(name)
        count, ttl = pipe.execute()
        return _decide(int(count or 0) < limit, int(ttl), window)


def _decide(allowed: bool, ttl: int, window: int) -> RateDecision:
    if allowed:
        return RateDecision(True)
    return RateDecision(False, ttl if ttl > 0 else window)
