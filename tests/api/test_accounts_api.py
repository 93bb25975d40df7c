"""Account endpoints over HTTP: success paths, ownership, validation and problem types."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import redis
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from backend.application.errors import ConcurrentModification
from tests.api.conftest import ApiUser, js

API = "/api/v1"


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = js(response)
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    return body


def open_account(client: FlaskClient, user: ApiUser, currency: str = "EUR") -> dict[str, Any]:
    response = client.post(
        f"{API}/accounts", json={"name": "Everyday", "currency": currency}, headers=user.auth
    )
    assert response.status_code == 201, js(response)
    body: dict[str, Any] = js(response)
    return body


def deposit(
    client: FlaskClient, user: ApiUser, account_id: str, amount: int, **headers: str
) -> Any:
    return client.post(
        f"{API}/accounts/{account_id}/deposits",
        json={"amount": amount, "reference": "salary"},
        headers={**user.auth, **headers},
    )


def balance(client: FlaskClient, user: ApiUser, account_id: str) -> int:
    value: int = js(client.get(f"{API}/accounts/{account_id}", headers=user.auth))["balance"]
    return value


def test_opening_an_account_returns_it_with_location_and_etag(
    client: FlaskClient, user: ApiUser
) -> None:
    response = client.post(
        f"{API}/accounts", json={"name": "Savings", "currency": "JPY"}, headers=user.auth
    )
    assert response.status_code == 201
    account = js(response)
    assert set(account) == {
        "id", "name", "currency", "balance", "available_balance", "status", "version",
        "opened_at", "updated_at",
    }  # fmt: skip
    assert (account["balance"], account["version"], account["status"]) == (0, 1, "open")
    assert response.headers["Location"].endswith(f"/api/v1/accounts/{account['id']}")
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "currency": "EUR", "balance": 1000}, "balance"),
        ({"name": "A", "currency": "EUR", "owner_id": "x"}, "owner_id"),
        ({"name": "A", "currency": "XXX"}, "currency"),
        ({"name": "A", "currency": "eur"}, "currency"),
        ({"name": "", "currency": "EUR"}, "name"),
        ({"name": "   ", "currency": "EUR"}, "name"),
        ({"name": "x" * 101, "currency": "EUR"}, "name"),
        ({"currency": "EUR"}, "name"),
    ],
)
def test_invalid_account_openings_name_the_field(
    client: FlaskClient, user: ApiUser, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"{API}/accounts", json=body, headers=user.auth)
    assert field in problem(response, 422, "validation-error")["errors"]
    assert js(client.get(f"{API}/accounts", headers=user.auth))["items"] == []


def test_listing_pages_with_next_cursor_and_link(client: FlaskClient, user: ApiUser) -> None:
    ids = [open_account(client, user)["id"] for _ in range(3)]
    first = client.get(f"{API}/accounts?limit=2", headers=user.auth)
    assert [a["id"] for a in js(first)["items"]] == ids[:2]
    assert js(first)["next_cursor"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(
        f"{API}/accounts?limit=2&cursor={js(first)['next_cursor']}", headers=user.auth
    )
    assert [a["id"] for a in js(second)["items"]] == ids[2:]
    assert js(second)["next_cursor"] is None
    assert "Link" not in second.headers


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"),
     ("cursor=bm90LWEtY3Vyc29y", "cursor"), ("cursor=%25%25", "cursor"), ("page=2", "page")],
)  # fmt: skip
def test_bad_paging_parameters_are_validation_errors(
    client: FlaskClient, user: ApiUser, query: str, field: str
) -> None:
    account = open_account(client, user)
    for path in ("/accounts", f"/accounts/{account['id']}/transactions"):
        response = client.get(f"{API}{path}?{query}", headers=user.auth)
        assert field in problem(response, 422, "validation-error")["errors"]


def test_a_deposit_is_visible_at_once(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    response = deposit(client, user, account["id"], 1050)
    assert response.status_code == 201
    transaction = js(response)
    assert transaction["kind"] == "deposit"
    assert (transaction["amount"], transaction["balance_after"]) == (1050, 1050)
    assert transaction["transfer_id"] is None
    assert transaction["reference"] == "salary"
    fetched = client.get(f"{API}/accounts/{account['id']}", headers=user.auth)
    assert (js(fetched)["balance"], js(fetched)["available_balance"]) == (1050, 1050)
    assert fetched.headers["ETag"] == '"2"'
    listed = client.get(f"{API}/accounts/{account['id']}/transactions", headers=user.auth)
    assert js(listed)["items"] == [transaction]


def test_withdrawals_reduce_the_balance_and_transactions_are_newest_first(
    client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    deposit(client, user, account["id"], 500)
    response = client.post(
        f"{API}/accounts/{account['id']}/withdrawals", json={"amount": 200}, headers=user.auth
    )
    assert response.status_code == 201
    assert (js(response)["kind"], js(response)["balance_after"]) == ("withdrawal", 300)
    listed = client.get(f"{API}/accounts/{account['id']}/transactions", headers=user.auth)
    assert [t["kind"] for t in js(listed)["items"]] == ["withdrawal", "deposit"]


def test_a_withdrawal_beyond_the_balance_is_insufficient_funds(
    client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    deposit(client, user, account["id"], 100)
    response = client.post(
        f"{API}/accounts/{account['id']}/withdrawals", json={"amount": 101}, headers=user.auth
    )
    problem(response, 422, "insufficient-funds")
    assert balance(client, user, account["id"]) == 100


@pytest.mark.parametrize(
    "amount", [0, -1, 1.5, 7.0, "10", True, None, 10**12 + 1, 2**63, [1], {"v": 1}]
)
def test_amounts_other_than_integers_in_range_are_refused(
    client: FlaskClient, user: ApiUser, amount: Any
) -> None:
    account = open_account(client, user)
    for kind in ("deposits", "withdrawals"):
        response = client.post(
            f"{API}/accounts/{account['id']}/{kind}", json={"amount": amount}, headers=user.auth
        )
        assert "amount" in problem(response, 422, "validation-error")["errors"]
    assert js(client.get(f"{API}/accounts/{account['id']}", headers=user.auth))["version"] == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "slug"),
    [
        ('{"amount": 1e400}', "application/json", 422, "validation-error"),
        ('{"amount": NaN}', "application/json", 400, "bad-request"),
        ("{not json", "application/json", 400, "bad-request"),
        ("[1, 2]", "application/json", 400, "bad-request"),
        ('{"amount": 10}', "text/plain", 415, "unsupported-media-type"),
        ("{}", "application/json", 422, "validation-error"),
        ('{"amount": 10, "balance": 5}', "application/json", 422, "validation-error"),
    ],
)
def test_malformed_money_bodies_get_their_problem(
    client: FlaskClient, user: ApiUser, body: str, content_type: str, status: int, slug: str
) -> None:
    account = open_account(client, user)
    response = client.post(
        f"{API}/accounts/{account['id']}/deposits",
        data=body,
        headers={**user.auth, "Content-Type": content_type},
    )
    problem(response, status, slug)
    assert balance(client, user, account["id"]) == 0


def test_an_oversized_body_is_payload_too_large(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    body = json.dumps({"amount": 1, "reference": "x" * (1 << 20)})
    response = client.post(
        f"{API}/accounts/{account['id']}/deposits",
        data=body,
        headers={**user.auth, "Content-Type": "application/json"},
    )
    problem(response, 413, "payload-too-large")


def test_closing_needs_an_empty_account(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    deposit(client, user, account["id"], 10)
    close = f"{API}/accounts/{account['id']}/close"
    problem(client.post(close, headers=user.auth), 409, "account-not-empty")
    client.post(
        f"{API}/accounts/{account['id']}/withdrawals", json={"amount": 10}, headers=user.auth
    )
    closed = client.post(close, headers=user.auth)
    assert closed.status_code == 200
    assert js(closed)["status"] == "closed"
    assert closed.headers["ETag"] == f'"{js(closed)["version"]}"'
    problem(deposit(client, user, account["id"], 5), 409, "account-closed")
    problem(client.post(close, headers=user.auth), 409, "account-closed")


def test_if_match_guards_commands_with_the_account_version(
    client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    problem(
        deposit(client, user, account["id"], 5, **{"If-Match": '"7"'}), 412, "precondition-failed"
    )
    problem(
        deposit(client, user, account["id"], 5, **{"If-Match": "garbage"}),
        412,
        "precondition-failed",
    )
    assert deposit(client, user, account["id"], 5, **{"If-Match": '"1"'}).status_code == 201
    close = client.post(
        f"{API}/accounts/{account['id']}/close", headers={**user.auth, "If-Match": '"1"'}
    )
    problem(close, 412, "precondition-failed")


def test_events_are_the_accounts_stream_oldest_first(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    deposit(client, user, account["id"], 5)
    response = client.get(f"{API}/accounts/{account['id']}/events?limit=1", headers=user.auth)
    assert response.status_code == 200
    (first,) = js(response)["items"]
    assert (first["version"], first["type"], first["schema_version"]) == (1, "AccountOpened", 1)
    assert first["data"]["currency"] == "EUR"
    assert first["correlation_id"]
    assert re.fullmatch("[0-9a-f]{64}", first["hash"])
    rest = client.get(
        f"{API}/accounts/{account['id']}/events?cursor={js(response)['next_cursor']}",
        headers=user.auth,
    )
    assert [e["type"] for e in js(rest)["items"]] == ["MoneyDeposited"]


def test_as_of_shows_the_account_as_it_stood(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    first = js(deposit(client, user, account["id"], 5))
    deposit(client, user, account["id"], 7)
    response = client.get(
        f"{API}/accounts/{account['id']}", query_string={"as_of": first["occurred_at"]},
        headers=user.auth,
    )  # fmt: skip
    assert response.status_code == 200
    assert js(response)["balance"] == 5
    bad = client.get(f"{API}/accounts/{account['id']}?as_of=yesterday", headers=user.auth)
    assert "as_of" in problem(bad, 422, "validation-error")["errors"]


def test_unknown_method_on_a_known_path_is_405(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    response = client.delete(f"{API}/accounts/{account['id']}", headers=user.auth)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def _routes(account_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{API}/accounts/{account_id}"
    return [
        ("GET", base, None),
        ("GET", f"{base}?as_of=2030-01-01T00:00:00Z", None),
        ("GET", f"{base}/transactions", None),
        ("GET", f"{base}/events", None),
        ("POST", f"{base}/deposits", {"amount": 5}),
        ("POST", f"{base}/withdrawals", {"amount": 5}),
        ("POST", f"{base}/close", None),
    ]


def test_another_users_account_is_not_found_on_every_route(
    client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    theirs = open_account(client, other_user)
    deposit(client, other_user, theirs["id"], 50)
    for (method, path, body), (_, ghost_path, _) in zip(
        _routes(theirs["id"]), _routes("no-such-account"), strict=True
    ):
        mine = client.open(path, method=method, json=body, headers=user.auth)
        ghost = client.open(ghost_path, method=method, json=body, headers=user.auth)
        assert (
            problem(mine, 404, "not-found")["detail"] == problem(ghost, 404, "not-found")["detail"]
        )
    assert balance(client, other_user, theirs["id"]) == 50
    assert js(client.get(f"{API}/accounts", headers=user.auth))["items"] == []


def test_account_routes_need_a_token(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    for method, path, body in [*_routes(account["id"]), ("GET", f"{API}/accounts", None)]:
        problem(client.open(path, method=method, json=body), 401, "unauthorized")


class _Failing:
    """A stand-in whose every call raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return fail


def test_unresolvable_conflicts_are_concurrent_modification(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    account = open_account(client, user)
    container = app.extensions["hexbank.container"]
    failing = _Failing(ConcurrentModification("gave up"))
    with container.command_runner.override(providers.Object(failing)):
        problem(deposit(client, user, account["id"], 5), 409, "concurrent-modification")
    assert balance(client, user, account["id"]) == 0


@pytest.mark.parametrize(
    "outage",
    [
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        redis.ConnectionError("Connection refused"),
    ],
)
def test_a_dependency_outage_is_service_unavailable_with_retry_after(
    app: Flask, client: FlaskClient, user: ApiUser, outage: Exception
) -> None:
    container = app.extensions["hexbank.container"]
    with container.account_queries.override(providers.Object(_Failing(outage))):
        response = client.get(f"{API}/accounts", headers=user.auth)
    problem(response, 503, "service-unavailable")
    assert int(response.headers["Retry-After"]) > 0
