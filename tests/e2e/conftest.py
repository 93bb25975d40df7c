"""Live hexbank deployments for end-to-end tests: embedded (SQLite, in-process queue) and
distributed (PostgreSQL, Redis, rq workers), made of real `hexbank` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_stack import Client, Stack


@pytest.fixture
def embedded_stack(tmp_path: Path) -> Iterator[Stack]:
    """A migrated embedded deployment with no process started yet."""
    stack = Stack(tmp_path / "embedded")
    stack.migrate()
    yield stack
    stack.stop()


@pytest.fixture
def distributed_stack(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str, redis_prefix: str
) -> Iterator[Stack]:
    """A migrated distributed deployment (its own PostgreSQL schema and Redis prefix)."""
    stack = Stack(tmp_path / "distributed", fresh_postgres_url, redis_url, f"{redis_prefix}:")
    stack.migrate()
    yield stack
    stack.stop()


@pytest.fixture
def embedded_client(embedded_stack: Stack) -> Client:
    """A client of a running embedded server."""
    return Client(embedded_stack.serve().url)
