"""Transfer endpoints over HTTP: 202 then the transfer engine (run here synchronously),
visibility, validation, listing and idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient

from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.app import CONTAINER_EXTENSION
from backend.application.queries import TransferQueries
from tests.api.conftest import ApiUser, js, register
from tests.api.test_accounts_api import balance, deposit, open_account, problem

API = "/api/v1"


@pytest.fixture
def app(make_api_app: Any) -> Flask:
    flask_app: Flask = make_api_app()
    container = flask_app.extensions[CONTAINER_EXTENSION]
    if "transfer_queries" not in container.providers:  # until the container provides it
        container.set_provider(
            "transfer_queries",
            providers.ThreadSafeSingleton(
                lambda: TransferQueries(SqlAlchemyReadModelReader(container.read_engine()))
            ),
        )
    return flask_app


def settle(app: Flask) -> int:
    """Run the app's transfer engine until no transfer is ready; how many it claimed."""
    engine = app.extensions[CONTAINER_EXTENSION].transfer_engine()
    claimed = 0
    while ran := engine.run_once():
        claimed += ran
    return claimed


def funded(client: FlaskClient, user: ApiUser, amount: int = 100) -> str:
    account_id: str = open_account(client, user)["id"]
    assert deposit(client, user, account_id, amount).status_code == 201
    return account_id


def send(client: FlaskClient, user: ApiUser, body: dict[str, Any], **headers: str) -> Any:
    return client.post(f"{API}/transfers", json=body, headers={**user.auth, **headers})


def test_transfer_is_accepted_pending_and_then_completes(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    source, target = funded(client, user), open_account(client, other_user)["id"]
    body = {"source_account_id": source, "target_account_id": target, "amount": 30}
    accepted = send(client, user, {**body, "reference": "rent"})
    assert accepted.status_code == 202, accepted.json
    transfer = js(accepted)
    assert accepted.headers["Location"] == f"{API}/transfers/{transfer['id']}"
    assert transfer | body == transfer
    assert (transfer["status"], transfer["failure_reason"], transfer["currency"]) == (
        "pending",
        None,
        "EUR",
    )
    assert settle(app) == 1
    done = js(client.get(f"{API}/transfers/{transfer['id']}", headers=user.auth))
    assert (done["status"], done["completed_at"] is not None) == ("completed", True)
    assert balance(client, user, source) == 70
    assert balance(client, other_user, target) == 30


def test_target_owner_sees_the_transfer_and_a_stranger_gets_404(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    source, target = funded(client, user), open_account(client, other_user)["id"]
    body = {"source_account_id": source, "target_account_id": target, "amount": 30}
    transfer_id = js(send(client, user, body))["id"]
    path = f"{API}/transfers/{transfer_id}"
    assert js(client.get(path, headers=other_user.auth))["id"] == transfer_id
    stranger = register(client)
    problem(client.get(path, headers=stranger.auth), 404, "not-found")
    problem(client.get(f"{API}/transfers/never-existed", headers=stranger.auth), 404, "not-found")


def test_transfer_beyond_the_balance_fails_with_its_reason(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    source, target = funded(client, user, 10), open_account(client, user)["id"]
    body = {"source_account_id": source, "target_account_id": target, "amount": 30}
    transfer_id = js(send(client, user, body))["id"]
    settle(app)
    failed = js(client.get(f"{API}/transfers/{transfer_id}", headers=user.auth))
    assert (failed["status"], failed["failure_reason"]) == ("failed", "insufficient_funds")
    assert balance(client, user, source) == 10


def test_transfer_from_someone_elses_account_is_404(
    client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    source = funded(client, other_user)
    body = {"source_account_id": source, "target_account_id": "x", "amount": 1}
    problem(send(client, user, body), 404, "not-found")


def test_transfer_to_the_same_account_is_422_same_account(
    client: FlaskClient, user: ApiUser
) -> None:
    source = funded(client, user)
    body = {"source_account_id": source, "target_account_id": source, "amount": 1}
    problem(send(client, user, body), 422, "same-account")


@pytest.mark.parametrize("amount", [0, -1, 1.5, "10", True, 10**12 + 1])
def test_transfer_of_a_bad_amount_is_422(client: FlaskClient, user: ApiUser, amount: Any) -> None:
    source, target = funded(client, user), open_account(client, user)["id"]
    body = {"source_account_id": source, "target_account_id": target, "amount": amount}
    assert "amount" in problem(send(client, user, body), 422, "validation-error")["errors"]


def test_transfer_with_unknown_fields_is_422(client: FlaskClient, user: ApiUser) -> None:
    source, target = funded(client, user), open_account(client, user)["id"]
    body = {"source_account_id": source, "target_account_id": target, "amount": 1, "status": "x"}
    problem(send(client, user, body), 422, "validation-error")


def test_transfer_list_is_newest_first_and_filters(
    app: Flask, client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    source, target = funded(client, user), open_account(client, other_user)["id"]
    ok = send(client, user, {"source_account_id": source, "target_account_id": target, "amount": 5})
    too_much = {"source_account_id": source, "target_account_id": target, "amount": 500}
    failing = send(client, user, too_much)
    settle(app)
    listed = js(client.get(f"{API}/transfers", headers=user.auth))
    assert [t["id"] for t in listed["items"]] == [js(failing)["id"], js(ok)["id"]]
    query = f"{API}/transfers?status=completed&account_id={source}"
    assert [t["id"] for t in js(client.get(query, headers=user.auth))["items"]] == [js(ok)["id"]]
    incoming = js(client.get(f"{API}/transfers?status=completed", headers=other_user.auth))
    assert [t["id"] for t in incoming["items"]] == [js(ok)["id"]]
    problem(client.get(f"{API}/transfers?status=lost", headers=user.auth), 422, "validation-error")


def test_transfer_repeated_with_an_idempotency_key_is_accepted_once(
    client: FlaskClient, user: ApiUser
) -> None:
    source, target = funded(client, user), open_account(client, user)["id"]
    body = {"source_account_id": source, "target_account_id": target, "amount": 5}
    first = send(client, user, body, **{"Idempotency-Key": "k-1"})
    again = send(client, user, body, **{"Idempotency-Key": "k-1"})
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (
        202,
        first.json,
        "true",
    )
    assert again.headers["Location"] == first.headers["Location"]
    assert len(js(client.get(f"{API}/transfers", headers=user.auth))["items"]) == 1
