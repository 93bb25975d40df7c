"""Redis token denylist: one key per revoked id, expiring when the token would have."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import redis


class RedisTokenDenylist:
    """TokenDenylist port; Redis expiry does the purging."""

    def __init__(self, client: redis.Redis, prefix: str = "hexbank:") -> None:
        self._client = client
        self._prefix = f"{prefix}denied:"

    def revoke(self, token_id: str, until: datetime, now: datetime) -> None:
        seconds = math.ceil((until - now).total_seconds())
        if seconds > 0:
            self._client.set(self._prefix + token_id, b"1", ex=seconds)

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool:
        if not token_ids:
            return False
        return int(self._client.exists(*[self._prefix + t for t in token_ids])) > 0
