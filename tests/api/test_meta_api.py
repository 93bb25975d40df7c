"""GET /api/v1/meta: the supported currencies and their minor units, from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient

from backend.config import Settings
from tests.api.conftest import js
from tests.api.test_accounts_api import API


def test_meta_lists_the_configured_currencies_with_their_minor_unit_digits(
    client: FlaskClient,
) -> None:
    response = client.get(f"{API}/meta")

    assert response.status_code == 200
    assert js(response) == {
        "currencies": [
            {"code": "EUR", "minor_unit_digits": 2},
            {"code": "USD", "minor_unit_digits": 2},
            {"code": "GBP", "minor_unit_digits": 2},
            {"code": "KRW", "minor_unit_digits": 0},
            {"code": "JPY", "minor_unit_digits": 0},
        ],
        "max_amount": 1_000_000_000_000,
    }


def test_meta_follows_the_deployments_currency_setting(
    make_api_app: Callable[..., Flask], api_settings: Settings
) -> None:
    app = make_api_app(replace(api_settings, currencies=("JPY", "EUR")))
    body = js(app.test_client().get(f"{API}/meta"))
    assert [c["code"] for c in body["currencies"]] == ["JPY", "EUR"]


def test_meta_is_public_and_documented(client: FlaskClient) -> None:
    spec = js(client.get(f"{API}/openapi.json"))
    operation = spec["paths"]["/api/v1/meta"]["get"]
    assert "security" not in operation
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Meta"
    }
