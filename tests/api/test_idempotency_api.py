"""Idempotency-Key on deposits and withdrawals: replay, reuse, in-use, and concurrent twins."""

from __future__ import annotations

import threading
from typing import Any

from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient

from backend.application.idempotency import IdempotencyKeyInUse
from tests.api.conftest import ApiUser, js, register
from tests.api.test_accounts_api import API, _Failing, balance, open_account, problem


def _post(client: FlaskClient, user: ApiUser, path: str, body: dict[str, Any], key: str) -> Any:
    return client.post(path, json=body, headers={**user.auth, "Idempotency-Key": key})


def test_a_repeat_replays_the_first_response_and_does_nothing_else(
    client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    path = f"{API}/accounts/{account['id']}/deposits"
    first = _post(client, user, path, {"amount": 100}, "key-1")
    again = _post(client, user, path, {"amount": 100}, "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json == js(first)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert balance(client, user, account["id"]) == 100


def test_the_same_key_with_another_body_is_idempotency_key_reused(
    client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    path = f"{API}/accounts/{account['id']}/deposits"
    _post(client, user, path, {"amount": 100}, "key-1")
    problem(_post(client, user, path, {"amount": 200}, "key-1"), 422, "idempotency-key-reused")
    withdrawal = f"{API}/accounts/{account['id']}/withdrawals"
    problem(
        _post(client, user, withdrawal, {"amount": 100}, "key-1"), 422, "idempotency-key-reused"
    )
    assert balance(client, user, account["id"]) == 100


def test_keys_are_scoped_to_the_caller(client: FlaskClient, user: ApiUser) -> None:
    someone = register(client)
    mine, theirs = open_account(client, user), open_account(client, someone)
    assert _post(client, user, f"{API}/accounts/{mine['id']}/deposits", {"amount": 1}, "k")
    response = _post(client, someone, f"{API}/accounts/{theirs['id']}/deposits", {"amount": 1}, "k")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers


def test_a_key_still_being_processed_is_in_use(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    path = f"{API}/accounts/{account['id']}/deposits"
    body = {"amount": 100}
    # SQLite runs writers one at a time, so a twin there waits and replays; a key held by an
    # open transaction is refused by PostgreSQL's store (tests/adapters/test_identity_contract).
    held = _Failing(IdempotencyKeyInUse("a request with this Idempotency-Key is still running"))
    with app.extensions["hexbank.container"].command_bus.override(providers.Object(held)):
        busy = _post(client, user, path, body, "busy")
    problem(busy, 409, "idempotency-key-in-use")
    assert busy.headers["Retry-After"] == "1"  # when to try the same key again
    assert balance(client, user, account["id"]) == 0


def test_a_refused_first_request_is_answered_again_to_its_repeats(any_mode_app: Flask) -> None:
    client = any_mode_app.test_client()
    user = register(client)
    account = open_account(client, user)
    withdrawal = f"{API}/accounts/{account['id']}/withdrawals"
    first = _post(client, user, withdrawal, {"amount": 50}, "w-1")
    refused = problem(first, 422, "insufficient-funds")
    assert "Idempotent-Replayed" not in first.headers

    client.post(f"{API}/accounts/{account['id']}/deposits", json={"amount": 50}, headers=user.auth)
    again = _post(client, user, withdrawal, {"amount": 50}, "w-1")  # would succeed now: not run
    assert problem(again, 422, "insufficient-funds") == refused
    assert again.headers["Idempotent-Replayed"] == "true"
    problem(_post(client, user, withdrawal, {"amount": 20}, "w-1"), 422, "idempotency-key-reused")
    assert balance(client, user, account["id"]) == 50
    assert _post(client, user, withdrawal, {"amount": 50}, "w-2").status_code == 201


def test_a_refused_transfer_is_answered_again_and_creates_nothing(any_mode_app: Flask) -> None:
    client = any_mode_app.test_client()
    user = register(client)
    source, target = open_account(client, user), open_account(client, user, currency="USD")
    body = {"source_account_id": source["id"], "target_account_id": source["id"], "amount": 1}
    first = problem(_post(client, user, f"{API}/transfers", body, "t-1"), 422, "same-account")
    again = _post(client, user, f"{API}/transfers", body, "t-1")
    assert problem(again, 422, "same-account") == first
    assert again.headers["Idempotent-Replayed"] == "true"
    body["target_account_id"] = target["id"]
    problem(_post(client, user, f"{API}/transfers", body, "t-1"), 422, "idempotency-key-reused")
    assert js(client.get(f"{API}/transfers", headers=user.auth))["items"] == []


def test_a_refusal_that_may_pass_on_retry_leaves_the_key_free(
    client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    deposit = f"{API}/accounts/{account['id']}/deposits"
    headers = {**user.auth, "Idempotency-Key": "d-1", "If-Match": '"7"'}
    problem(client.post(deposit, json={"amount": 5}, headers=headers), 412, "precondition-failed")
    headers["If-Match"] = '"1"'
    assert client.post(deposit, json={"amount": 5}, headers=headers).status_code == 201


def test_malformed_keys_are_validation_errors(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    path = f"{API}/accounts/{account['id']}/deposits"
    for key in ("", "x" * 256, "tab\there"):
        response = _post(client, user, path, {"amount": 1}, key)
        assert "Idempotency-Key" in problem(response, 422, "validation-error")["errors"]
    assert balance(client, user, account["id"]) == 0


def test_concurrent_twins_with_one_key_have_exactly_one_effect(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    path = f"{API}/accounts/{account['id']}/deposits"
    start = threading.Barrier(8)
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def send() -> None:
        own_client = app.test_client()
        start.wait()
        response = _post(own_client, user, path, {"amount": 25}, "twin")
        with lock:
            results.append((response.status_code, js(response)))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _ in results)
    assert len(results) == 8
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert len({body["id"] for status, body in results if status == 201}) == 1
    assert balance(client, user, account["id"]) == 25
    history = client.get(f"{API}/accounts/{account['id']}/transactions", headers=user.auth)
    assert len(js(history)["items"]) == 1
