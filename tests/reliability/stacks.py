"""Building blocks of the reliability suite: run lengths (bounded or soak) and live stacks on
the private servers.

Bounded by default (the whole of tests/reliability fits in `make test`); `make soak` sets
HEXBANK_SOAK_SECONDS and the long-running checks run that long instead.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tests.live_stack import Stack
from tests.reliability.services import PostgresServer, RedisServer

SOAK_ENV = "HEXBANK_SOAK_SECONDS"


def soak_seconds() -> float:
    """The soak duration asked for by `make soak`, 0 in a normal run."""
    return float(os.environ.get(SOAK_ENV) or 0)


def duration(bounded: float) -> float:
    """How long a long-running check runs: `bounded` seconds, or the whole soak."""
    return soak_seconds() or bounded


def scaled(bounded: int, per_soak_minute: int) -> int:
    """A size for a run: `bounded`, or proportional to the soak's length."""
    minutes = soak_seconds() / 60
    return max(bounded, int(per_soak_minute * minutes)) if minutes else bounded


def distributed_stack(directory: Path, postgres: PostgresServer, redis: RedisServer) -> Stack:
    """A migrated distributed deployment: a new database on the private PostgreSQL, a new
    key prefix on the private Redis; nothing started yet."""
    if not postgres.running:  # a test before may have left it down
        postgres.start()
    if not redis.running:
        redis.start()
    prefix = f"rel{uuid.uuid4().hex[:8]}:"
    stack = Stack(directory, postgres.create_database(), redis.url, prefix)
    stack.migrate()
    return stack


def embedded_stack(directory: Path) -> Stack:
    """A migrated embedded deployment (SQLite, in-process queue); nothing started yet."""
    stack = Stack(directory)
    stack.migrate()
    return stack
