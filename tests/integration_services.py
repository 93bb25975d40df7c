"""Real PostgreSQL and Redis for tests: reachability probes and per-session isolation.

Several people run the suite at once against the same servers, so nothing here touches shared
state: each PostgreSQL user gets its own schema (dropped afterwards) and each Redis user a key
prefix (whose keys are deleted afterwards).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_ENV = "HEXBANK_TEST_DATABASE_URL"
REDIS_ENV = "HEXBANK_TEST_REDIS_URL"
PROBE_TIMEOUT_SECONDS = 1.0


def unique_name(kind: str = "t") -> str:
    """`hexbank_<kind>_<8 hex>`: a schema name or key prefix no concurrent run will share."""
    return f"hexbank_{kind}_{uuid.uuid4().hex[:8]}"


def unavailable(message: str) -> None:
    """Skip, or fail under CI (where a missing service must never pass as a skip)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: required)", pytrace=False)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def postgres_base_url() -> str:
    """The configured PostgreSQL URL, after checking that the server answers."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL
    parsed = make_url(url)
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if not _port_open(parsed.host or "localhost", parsed.port or 5432):
        unavailable(f"PostgreSQL not reachable at {where}; set {POSTGRES_ENV}")
    try:
        _execute(url, "SELECT 1")
    except Exception as error:  # reachable but unusable (auth, missing database, ...)
        unavailable(f"PostgreSQL at {where} refused us ({error}); set {POSTGRES_ENV}")
    return url


def redis_base_url() -> str:
    """The configured Redis URL, after checking that the server answers PING."""
    url = os.environ.get(REDIS_ENV) or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis not reachable at {url} ({error}); set {REDIS_ENV}")
    finally:
        client.close()
    return url


def with_search_path(url: str, schema: str) -> str:
    """`url` whose connections use `schema` first (libpq `options=-csearch_path=...`)."""
    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@contextmanager
def temporary_schema(base_url: str) -> Iterator[str]:
    """A fresh schema for the duration of the block; yields a URL bound to it."""
    schema = unique_name()
    _execute(base_url, f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(base_url, schema)
    finally:
        # A bounded wait: a test that leaked an open transaction must not hang the session.
        _execute(base_url, "SET lock_timeout = '10s'", f'DROP SCHEMA "{schema}" CASCADE')


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def delete_prefixed_keys(url: str, prefix: str) -> None:
    """Delete every key containing `prefix` (rq puts its own prefix in front of queue names)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        pattern = f"*{_glob_escape(prefix)}*"
        for batch in _batches(client.scan_iter(match=pattern, count=500), 500):
            client.delete(*batch)
        stale = [q for q in client.smembers("rq:queues") if prefix.encode() in q]
        if stale:
            client.srem("rq:queues", *stale)
    finally:
        client.close()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _batches(items: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
