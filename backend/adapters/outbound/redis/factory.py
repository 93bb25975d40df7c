"""Chooses, for each port that Redis can serve, the Redis adapter (distributed mode, when
`HEXBANK_REDIS_URL` is set) or its in-memory twin (embedded mode)."""

from __future__ import annotations

from collections.abc import Callable

import redis

from backend.adapters.inbound.ws.messages import encode_push
from backend.adapters.outbound.memory.pubsub import InMemoryPushChannel
from backend.adapters.outbound.memory.rate_limiter import InMemoryRateLimiter
from backend.adapters.outbound.memory.revocation_feed import InMemoryRevocationFeed
from backend.adapters.outbound.redis.pubsub import RedisPushChannel
from backend.adapters.outbound.redis.rate_limiter import RedisRateLimiter
from backend.adapters.outbound.redis.revocation_feed import RedisRevocationFeed
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.push import PushChannel
from backend.application.ports.rate_limits import RateLimiter
from backend.application.ports.tokens import RevocationFeed
from backend.config import Settings

#: Resolves the process's Redis client (None without a Redis URL); built only when needed.
ClientProvider = Callable[[], redis.Redis | None]


def redis_client_for(url: str | None) -> redis.Redis | None:
    """A client for `url`, or None in embedded mode."""
    if url is None:
        return None
    # Bounded timeouts so that a dead Redis fails a request fast instead of hanging a thread.
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


def rate_limiter_for(settings: Settings, clock: Clock, client: ClientProvider) -> RateLimiter:
    """Shared by every process through Redis; per process in embedded mode."""
    redis_client = client() if settings.redis_url is not None else None
    if redis_client is None:
        return InMemoryRateLimiter(clock)
    return RedisRateLimiter(redis_client, prefix=settings.redis_prefix)


def push_channel_for(settings: Settings, client: ClientProvider) -> PushChannel:
    """Distributed mode fans pushes out across web processes through Redis pub/sub."""
    redis_client = client() if settings.redis_url is not None else None
    if redis_client is not None:
        return RedisPushChannel(redis_client, encode_push, prefix=settings.redis_prefix)
    return InMemoryPushChannel(encode_push)


def revocation_feed_for(settings: Settings, client: ClientProvider) -> RevocationFeed:
    """Every web process keeps the denylist in memory; Redis tells them all of a revocation."""
    redis_client = client() if settings.redis_url is not None else None
    if redis_client is not None:
        return RedisRevocationFeed(redis_client, prefix=settings.redis_prefix)
    return InMemoryRevocationFeed()
