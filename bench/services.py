"""Where the benchmarks find PostgreSQL and Redis for their distributed runs."""

from __future__ import annotations

import os

import redis

from tests.integration_services import DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL, temporary_schema

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
