"""What the end-to-end benchmarks share: PostgreSQL and Redis for their distributed runs, and
deployments of real hexbank processes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from tests.integration_services import DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL, temporary_schema
from tests.live_stack import Stack

DATABASE_ENV, REDIS_ENV = "HEXBANK_BENCH_DATABASE_URL", "HEXBANK_BENCH_REDIS_URL"


def distributed_services(bench: str) -> tuple[str, str] | None:
    """(PostgreSQL URL, Redis URL) when both answer, else None (after saying why)."""
    database_url = os.environ.get(DATABASE_ENV, DEFAULT_POSTGRES_URL)
    redis_url = os.environ.get(REDIS_ENV, DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
        with temporary_schema(database_url):
            pass
    except Exception as error:  # either is down: the embedded figures still count
        print(f"{bench}: distributed figures skipped ({type(error).__name__}: {error})")
        return None
    return database_url, redis_url


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once (starting or stopping processes); their results in order."""
    with ThreadPoolExecutor(max(1, len(calls))) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


@contextmanager
def deployment(env: dict[str, str], **options: Any) -> Iterator[Stack]:
    """A migrated deployment in a temporary directory, its processes configured with `env`
    on top; they all stop together at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), extra_env=env, **options)
        try:
            stack.migrate()
            yield stack
        finally:
            if stack.processes:
                in_parallel([process.stop for process in stack.processes])
