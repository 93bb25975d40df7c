"""Users and tokens over HTTP: registration, login, refresh rotation, logout, forged tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.config import Settings
from tests.api.conftest import PASSWORD, ApiUser, js, login, register
from tests.conftest import TEST_SECRET_KEY


def _problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = js(response)
    assert body["type"] == f"/problems/{slug}"
    return body


def _token(claims: dict[str, Any], key: str = TEST_SECRET_KEY, alg: str = "HS256") -> str:
    now = int(time.time())
    payload = {
        "sub": "someone", "jti": "j1", "fam": "f1", "iat": now, "nbf": now, "exp": now + 600,
        "aud": "hexbank-api", "iss": "hexbank", **claims,
    }  # fmt: skip
    return jwt.encode(payload, None if alg == "none" else key, algorithm=alg)


def test_registration_returns_the_user_without_secrets(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/users", json={"email": "Ann@Example.com", "password": PASSWORD, "name": "Ann"}
    )
    assert response.status_code == 201
    assert set(js(response)) == {"id", "email", "name", "created_at"}
    assert js(response)["email"] == "ann@example.com"
    assert js(response)["created_at"].endswith("Z")


def test_registering_an_email_twice_in_any_case_is_email_taken(client: FlaskClient) -> None:
    register(client, "bob@example.com")
    response = client.post(
        "/api/v1/users", json={"email": "BOB@example.com", "password": PASSWORD, "name": "B"}
    )
    _problem(response, 409, "email-taken")


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD, "name": "A"},
        {"email": "a@example.com", "password": "short", "name": "A"},
        {"email": "a@example.com", "password": "x" * 129, "name": "A"},
        {"email": "a@example.com", "password": PASSWORD, "name": "A", "is_admin": True},
        {"email": "a@example.com", "password": PASSWORD},
    ],
)
def test_invalid_registrations_are_validation_errors(
    client: FlaskClient, body: dict[str, Any]
) -> None:
    body_json = _problem(client.post("/api/v1/users", json=body), 422, "validation-error")
    assert body_json["errors"]


def test_me_returns_the_caller(client: FlaskClient, user: ApiUser) -> None:
    response = client.get("/api/v1/users/me", headers=user.auth)
    assert response.status_code == 200
    assert js(response)["id"] == user.id
    assert js(response)["email"] == user.email


def test_token_pair_has_the_documented_shape(client: FlaskClient, user: ApiUser) -> None:
    pair = login(client, user.email.upper())
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert {"exp", "iat", "jti", "sub", "nbf", "aud"} <= set(claims)


def test_wrong_password_and_unknown_email_get_the_same_401(
    client: FlaskClient, user: ApiUser
) -> None:
    wrong = client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope" * 3})
    unknown = client.post(
        "/api/v1/auth/token", json={"email": "ghost@example.com", "password": "nope" * 3}
    )
    assert _problem(wrong, 401, "unauthorized") == _problem(unknown, 401, "unauthorized")
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


def test_five_failed_logins_lock_the_email_with_retry_after(
    client: FlaskClient, user: ApiUser
) -> None:
    for _ in range(5):
        response = client.post(
            "/api/v1/auth/token", json={"email": user.email, "password": "wrong" * 3}
        )
        assert response.status_code == 401
    locked = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    _problem(locked, 429, "rate-limited")
    assert 0 < int(locked.headers["Retry-After"]) <= 900


def test_refresh_rotates_and_reuse_revokes_the_login(client: FlaskClient, user: ApiUser) -> None:
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    _problem(reused, 401, "unauthorized")
    newest = client.post("/api/v1/auth/refresh", json={"refresh_token": js(first)["refresh_token"]})
    _problem(newest, 401, "unauthorized")
    me = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {js(first)['access_token']}"}
    )
    _problem(me, 401, "unauthorized")


def test_logout_stops_the_access_and_refresh_tokens_at_once(
    client: FlaskClient, user: ApiUser
) -> None:
    response = client.post(
        "/api/v1/auth/logout", json={"refresh_token": user.refresh_token}, headers=user.auth
    )
    assert response.status_code == 204
    _problem(client.get("/api/v1/users/me", headers=user.auth), 401, "unauthorized")
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    _problem(refreshed, 401, "unauthorized")


def test_logout_needs_a_token(client: FlaskClient, user: ApiUser) -> None:
    response = client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    _problem(response, 401, "unauthorized")


def test_an_unknown_refresh_token_is_unauthorized(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    _problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer " + _token({}, key="another-key-that-is-long-enough-to-sign-tokens"),
        "Bearer " + _token({"exp": int(time.time()) - 10}),
        "Bearer " + _token({"nbf": int(time.time()) + 3600}),
        "Bearer " + _token({"aud": "someone-else"}),
        "Bearer " + _token({}, alg="none"),
    ],
    ids=[
        "missing", "empty", "basic", "malformed", "foreign-key", "expired", "not-yet-valid",
        "wrong-audience", "alg-none",
    ],
)  # fmt: skip
def test_bad_tokens_are_unauthorized(client: FlaskClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/v1/users/me", headers=headers)
    _problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_general_rate_limit_answers_429_with_retry_after(
    make_api_app: Callable[..., Flask], api_settings: Settings
) -> None:
    from dataclasses import replace

    from backend.config import RateLimit

    client = make_api_app(replace(api_settings, rate_limit=RateLimit(3, 60))).test_client()
    statuses = [client.get("/api/v1/accounts").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = client.get("/api/v1/accounts")
    assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("hops", [0, 1])
def test_the_general_limit_counts_proxied_clients_apart_only_behind_a_proxy(
    make_api_app: Callable[..., Flask], api_settings: Settings, hops: int
) -> None:
    """Behind nginx (HEXBANK_PROXY_HOPS=1) each client has its own budget, not the proxy's;
    without a proxy X-Forwarded-For is the client's own claim and is ignored."""
    from dataclasses import replace

    from backend.config import RateLimit

    settings = replace(api_settings, rate_limit=RateLimit(2, 60), proxy_hops=hops)
    client = make_api_app(settings).test_client()

    def from_client(address: str) -> int:
        return client.get("/api/v1/accounts", headers={"X-Forwarded-For": address}).status_code

    first = [from_client("203.0.113.7") for _ in range(3)]
    other = from_client("198.51.100.9")
    assert first == [401, 401, 429]
    assert other == (401 if hops else 429)


def test_cors_allows_only_configured_origins(
    make_api_app: Callable[..., Flask], api_settings: Settings
) -> None:
    from dataclasses import replace

    allowed = "https://app.example.com"
    client = make_api_app(replace(api_settings, cors_origins=(allowed,))).test_client()
    preflight = {"Access-Control-Request-Method": "POST"}
    ok = client.options("/api/v1/accounts", headers={"Origin": allowed, **preflight})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == allowed
    assert "Idempotency-Key" in ok.headers["Access-Control-Allow-Headers"]
    other = client.get("/api/v1/users/me", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_no_origin_is_allowed_by_default(client: FlaskClient) -> None:
    response = client.get("/api/v1/users/me", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
