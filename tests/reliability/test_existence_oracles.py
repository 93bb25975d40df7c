"""R21 existence oracles: a stranger's ids, and ids of another kind, answer like ids that never
existed, in status, body, headers and cost; both modes' databases (SQLite, PostgreSQL).

Cost is compared by the work the server does, not by wall-clock time on a shared machine: the
SQL statements each request sends (their text, in order) must be the very same for a stranger's
id as for one that never existed, and an owner's `as_of` on the same account must send more
(the counter sees the work that an oracle would leak).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event

from backend.config import Settings
from backend.entrypoints.cli.migrate import upgrade_database
from tests.api.conftest import ApiUser, register
from tests.conftest import SettingsFactory
from tests.reliability.apps import API, build_app, world

AS_OF = "2099-01-01T00:00:00Z"
#: Enough events that replaying them would show (two snapshots' worth at the default 100).
DEPOSITS = 220


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def oracle_settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    if request.param == "sqlite":
        return make_settings()
    url: str = request.getfixturevalue("fresh_postgres_url")
    upgrade_database(url)
    return make_settings(HEXBANK_DATABASE_URL=url)


@pytest.fixture
def oracle_app(oracle_settings: Settings, made_apps: list[Flask]) -> Flask:
    return build_app(oracle_settings, made_apps)


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL text of every statement sent on the app's engines meanwhile."""
    container = app.extensions["hexbank.container"]
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    engines: set[Engine] = {container.engine(), container.read_engine()}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def answer(app: Flask, client: FlaskClient, user: ApiUser, path: str) -> tuple[Any, ...]:
    with statements(app) as sent:
        response = client.get(path, headers=user.auth)
    body = response.get_json()
    if isinstance(body, dict):
        body.pop("instance", None)  # the request path, which differs by construction
    headers = {k: v for k, v in response.headers if k not in ("X-Request-ID", "Content-Length")}
    return response.status_code, body, tuple(sent), headers


def long_account(client: FlaskClient, user: ApiUser, key: str = "own-key") -> str:
    account = world(client, user, key)["account"]
    for _ in range(DEPOSITS):
        path = f"{API}/accounts/{account}/deposits"
        assert client.post(path, json={"amount": 1}, headers=user.auth).status_code == 201
    return account


def probes(ids: dict[str, str]) -> list[str]:
    """GET paths that name an account or a transfer by `ids`, including the wrong kind."""
    account, transfer = ids["account"], ids["transfer"]
    paths = []
    for as_account in (account, transfer, ids["user"]):
        base = f"{API}/accounts/{as_account}"
        paths += [base, f"{base}?as_of={AS_OF}", f"{base}/transactions", f"{base}/events"]
        paths.append(f"{base}/daily-balances")
    return [*paths, f"{API}/transfers/{transfer}", f"{API}/transfers/{account}"]


def test_strangers_ids_and_other_kinds_answer_and_cost_like_ids_that_never_existed(
    oracle_app: Flask,
) -> None:
    client = oracle_app.test_client()
    alice, bob = register(client), register(client)
    bobs = {**world(client, bob), "account": long_account(client, bob, "2"), "user": bob.id}
    ghosts = {key: str(uuid.uuid4()) for key in bobs}
    for theirs, never in zip(probes(bobs), probes(ghosts), strict=True):
        seen, ghost = (
            answer(oracle_app, client, alice, theirs),
            answer(oracle_app, client, alice, never),
        )
        assert seen[0] == 404, (theirs, seen[:2])
        assert seen == ghost, (theirs, seen, ghost)


def test_an_own_transfers_id_as_an_account_is_404_even_with_as_of(oracle_app: Flask) -> None:
    client = oracle_app.test_client()
    alice = register(client)
    mine = world(client, alice)
    for path in (
        f"{API}/accounts/{mine['transfer']}",
        f"{API}/accounts/{mine['transfer']}?as_of={AS_OF}",
    ):
        status, body, _, _ = answer(oracle_app, client, alice, path)
        assert (status, body["type"].rsplit("/", 1)[-1]) == (404, "not-found"), (path, body)


def test_the_counter_sees_the_replay_an_owner_asks_for(oracle_app: Flask) -> None:
    """The comparison above is meaningful: the owner's `as_of` on the same long account sends
    statements that the refused requests do not."""
    client = oracle_app.test_client()
    bob, alice = register(client), register(client)
    account = long_account(client, bob)
    path = f"{API}/accounts/{account}?as_of={AS_OF}"
    owner, stranger = answer(oracle_app, client, bob, path), answer(oracle_app, client, alice, path)
    assert (owner[0], owner[1]["version"]) == (200, DEPOSITS + 2)
    assert len(owner[2]) > len(stranger[2])
