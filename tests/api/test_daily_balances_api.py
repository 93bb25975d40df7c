"""GET /api/v1/accounts/{id}/daily-balances: the balance chart's data, for the owner only."""

from __future__ import annotations

from datetime import UTC, datetime

from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient

from backend.app import CONTAINER_EXTENSION
from tests.api.conftest import ApiUser, js
from tests.api.test_accounts_api import API, deposit, open_account, problem
from tests.fakes import FixedClock


def test_daily_balances_cover_every_day_with_a_movement_oldest_first(
    app: Flask, client: FlaskClient, user: ApiUser
) -> None:
    clock = FixedClock(datetime(2026, 11, 1, 9, tzinfo=UTC))
    app.extensions[CONTAINER_EXTENSION].clock.override(providers.Object(clock))
    account = open_account(client, user)
    deposit(client, user, account["id"], 5_000)
    deposit(client, user, account["id"], 250)
    clock.advance(days=3)
    client.post(f"{API}/accounts/{account['id']}/withdrawals", json={"amount": 1_000},
                headers=user.auth)  # fmt: skip

    response = client.get(f"{API}/accounts/{account['id']}/daily-balances", headers=user.auth)

    assert response.status_code == 200
    assert js(response) == {
        "account_id": account["id"],
        "currency": "EUR",
        "items": [
            {"day": "2026-11-01", "closing_balance": 5_250, "deposits": 5_250,
             "withdrawals": 0, "transfers_in": 0, "transfers_out": 0},
            {"day": "2026-11-04", "closing_balance": 4_250, "deposits": 0,
             "withdrawals": 1_000, "transfers_in": 0, "transfers_out": 0},
        ],
    }  # fmt: skip


def test_an_account_without_movements_has_no_days(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    response = client.get(f"{API}/accounts/{account['id']}/daily-balances", headers=user.auth)
    assert js(response)["items"] == []


def test_someone_elses_account_is_not_found(
    client: FlaskClient, user: ApiUser, other_user: ApiUser
) -> None:
    account = open_account(client, user)
    deposit(client, user, account["id"], 100)
    path = f"{API}/accounts/{account['id']}/daily-balances"
    problem(client.get(path, headers=other_user.auth), 404, "not-found")
    problem(client.get(f"{API}/accounts/no-such-account/daily-balances", headers=user.auth),
            404, "not-found")  # fmt: skip


def test_daily_balances_need_a_token(client: FlaskClient, user: ApiUser) -> None:
    account = open_account(client, user)
    problem(client.get(f"{API}/accounts/{account['id']}/daily-balances"), 401, "unauthorized")


def test_daily_balances_are_documented(client: FlaskClient) -> None:
    spec = js(client.get(f"{API}/openapi.json"))
    operation = spec["paths"]["/api/v1/accounts/{account_id}/daily-balances"]["get"]
    assert operation["operationId"] == "listDailyBalances"
    assert set(operation["responses"]) >= {"200", "401", "404"}
    assert spec["components"]["schemas"]["DailyBalance"]["properties"]["day"]["format"] == "date"
