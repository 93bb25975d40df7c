"""An app on a migrated SQLite database with cheap password hashing, and user helpers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from backend.adapters.outbound.security.argon2_hasher import Argon2PasswordHasher
from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.app import create_app
from backend.application.queries import AccountQueries, TransferQueries
from backend.config import Settings
from backend.container import Container, build_container
from tests.conftest import SettingsFactory

PASSWORD = "correct horse battery"
_emails = itertools.count(1)


@pytest.fixture
def api_settings(make_settings: SettingsFactory) -> Settings:
    """Embedded settings over a migrated SQLite database of this test's own."""
    return make_settings()


@pytest.fixture
def make_api_app(api_settings: Settings) -> Iterator[Callable[..., Flask]]:
    """Build the app for the test's settings (changed with `make_api_app(**overrides)`)."""
    containers: list[Container] = []

    def build(settings: Settings = api_settings) -> Flask:
        container = build_container(settings)
        # STACK.md gotcha 21: default argon2 costs ~140 ms per hash.
        cheap = Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        container.password_hasher.override(providers.Object(cheap))
        _provide_command_side(container, settings)
        containers.append(container)
        return create_app(settings, container)

    yield build
    for container in containers:
        container.engine().dispose()


def _provide_command_side(container: Container, settings: Settings) -> None:
    """The queries, for as long as the container lacks them."""
    if "transfer_queries" not in container.providers:
        container.set_provider(
            "transfer_queries",
            providers.ThreadSafeSingleton(
                lambda: TransferQueries(SqlAlchemyReadModelReader(container.read_engine()))
            ),
        )
    if "account_queries" not in container.providers:
        container.set_provider(
            "account_queries",
            providers.ThreadSafeSingleton(
                lambda: AccountQueries(SqlAlchemyReadModelReader(container.read_engine()))
            ),
        )


@pytest.fixture
def app(make_api_app: Callable[..., Flask]) -> Flask:
    return make_api_app()


@pytest.fixture
def any_mode_app(make_api_app: Callable[..., Flask], mode_settings: Settings) -> Flask:
    """The app in each mode: embedded (SQLite) and distributed (PostgreSQL and Redis)."""
    return make_api_app(mode_settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class ApiUser:
    """A registered, logged-in user."""

    id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def js(response: TestResponse) -> Any:
    """The response's JSON body (typed Any, where Flask says `Any | None`)."""
    return response.get_json(silent=True)


def register(client: FlaskClient, email: str | None = None) -> ApiUser:
    """Register a fresh user and log in."""
    email = email or f"user{next(_emails)}@example.com"
    created = client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "U"})
    assert created.status_code == 201, js(created)
    pair = login(client, email)
    return ApiUser(js(created)["id"], email, pair["access_token"], pair["refresh_token"])


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, js(response)
    body: dict[str, Any] = js(response)
    return body


@pytest.fixture
def user(client: FlaskClient) -> ApiUser:
    return register(client)


@pytest.fixture
def other_user(client: FlaskClient) -> ApiUser:
    return register(client)
