"""In-process apps for the reliability suite: the real app with cheap password hashing,
a small world of accounts to act on, and a snapshot of every row a request could change."""

from __future__ import annotations

from typing import Any

from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text

from backend.adapters.outbound.security.argon2_hasher import Argon2PasswordHasher
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE
from backend.app import create_app
from backend.config import Settings
from backend.container import build_container
from tests.api.conftest import ApiUser

API = "/api/v1"


def build_app(settings: Settings, apps: list[Flask] | None = None, **overrides: object) -> Flask:
    """The real app for `settings`, with cheap argon2 and providers replaced by `overrides`."""
    container = build_container(settings)
    cheap = Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    container.password_hasher.override(providers.Object(cheap))
    for name, value in overrides.items():
        getattr(container, name).override(providers.Object(value))
    app = create_app(settings, container)
    if apps is not None:
        apps.append(app)
    return app


def database(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that a request could change, for before/after comparisons."""
    engine: Engine = app.extensions["hexbank.container"].engine()
    tables = (LIVE.summaries, LIVE.transactions, LIVE.transfers)
    statements: dict[str, Any] = {t.name: select(t) for t in tables}
    statements |= {
        name: text(f"SELECT * FROM {name}")  # noqa: S608 (fixed table names)
        for name in (
            "events",
            "outbox",
            "idempotency_keys",
            "users",
            "refresh_tokens",
            "token_denylist",
        )
    }
    with engine.connect() as connection:
        return {
            name: sorted(map(tuple, connection.execute(s)), key=repr)
            for name, s in statements.items()
        }


def world(client: FlaskClient, user: ApiUser, key: str = "own-key") -> dict[str, str]:
    """Two funded accounts and a transfer between them, made with Idempotency-Key `key`."""
    ids = {}
    for name in ("account", "other"):
        body = {"name": name, "currency": "EUR"}
        ids[name] = client.post(f"{API}/accounts", json=body, headers=user.auth).get_json()["id"]
        path = f"{API}/accounts/{ids[name]}/deposits"
        assert client.post(path, json={"amount": 100}, headers=user.auth).status_code == 201
    move = {"source_account_id": ids["account"], "target_account_id": ids["other"], "amount": 1}
    headers = {**user.auth, "Idempotency-Key": key}
    ids["transfer"] = client.post(f"{API}/transfers", json=move, headers=headers).get_json()["id"]
    return ids
