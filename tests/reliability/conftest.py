"""Fixtures of the reliability suite: private PostgreSQL and Redis that tests may restart,
live stacks on them, and in-process apps (helpers in tests/reliability/stacks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.config import Settings
from tests.live_stack import Stack
from tests.reliability.apps import build_app
from tests.reliability.services import (
    PostgresServer,
    RedisServer,
    remove,
    start_postgres,
    start_redis,
)
from tests.reliability.stacks import distributed_stack, embedded_stack


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def private_redis(service_logs: Path) -> Iterator[RedisServer]:
    """A Redis of this session only, which tests may kill and restart."""
    server = start_redis(service_logs)
    yield server
    server.kill()


@pytest.fixture(scope="session")
def private_postgres(service_logs: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this session only, which tests may kill and restart."""
    server = start_postgres(service_logs)
    yield server
    remove(server)


@pytest.fixture
def distributed(
    tmp_path: Path, private_postgres: PostgresServer, private_redis: RedisServer
) -> Iterator[Stack]:
    """A migrated distributed deployment on the private servers; nothing started yet."""
    stack = distributed_stack(tmp_path / "distributed", private_postgres, private_redis)
    yield stack
    stack.stop()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Stack]:
    """A migrated embedded deployment; nothing started yet."""
    stack = embedded_stack(tmp_path / "embedded")
    yield stack
    stack.stop()


@pytest.fixture
def made_apps() -> Iterator[list[Flask]]:
    """Apps a test builds in-process (with stacks.build_app); disposed afterwards."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions["hexbank.container"].engine().dispose()


@pytest.fixture
def app(settings: Settings, made_apps: list[Flask]) -> Flask:
    """The real app on a migrated SQLite database of this test, with cheap password hashing."""
    return build_app(settings, made_apps)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def any_mode_app(mode_settings: Settings, made_apps: list[Flask]) -> Flask:
    """The real app in each mode: embedded (SQLite) and distributed (PostgreSQL and Redis)."""
    return build_app(mode_settings, made_apps)
