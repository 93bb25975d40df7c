"""R10 authentication, in-process with an injected clock.

Every kind of bad token is 401 on a route that would change money, and changes nothing;
150 wrong passwords for one email lock it after 5 (429 with Retry-After) until the 15-minute
window passes on the injected clock. The token shapes GET /users/me refuses are also in
tests/api/test_auth_api.py::test_bad_tokens_are_unauthorized; the lockout rule itself in
tests/application/test_identity.py.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
from flask import Flask
from flask.testing import FlaskClient

from backend.config import Settings
from tests.api.conftest import PASSWORD, ApiUser, register
from tests.conftest import TEST_SECRET_KEY
from tests.fakes import FixedClock
from tests.reliability.apps import API, build_app, database, world

WINDOW = timedelta(minutes=15)


def forged(user: ApiUser, **claims: Any) -> str:
    """The user's own token with some claims replaced, signed with the real key."""
    payload = jwt.decode(user.access_token, options={"verify_signature": False}) | claims
    return jwt.encode(payload, TEST_SECRET_KEY, algorithm="HS256")


def tampered(token: str, **claims: Any) -> str:
    """The token's payload changed, its signature kept."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) | claims
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{signature}"


def bad_tokens(
    client: FlaskClient, user: ApiUser, victim: ApiUser, clock: FixedClock
) -> dict[str, str]:
    now = int(clock.now().timestamp())
    revoked = register(client)
    logout = client.post(f"{API}/auth/logout", json={"refresh_token": revoked.refresh_token},
                         headers=revoked.auth)  # fmt: skip
    assert logout.status_code == 204
    return {
        "expired": forged(user, exp=now - 1),
        "not yet valid": forged(user, nbf=now + 60),
        "wrong audience": forged(user, aud="another-api"),
        "wrong issuer": forged(user, iss="someone-else"),
        "no expiry": jwt.encode(
            {"sub": user.id, "aud": "hexbank-api", "iss": "hexbank"},
            TEST_SECRET_KEY,
            algorithm="HS256",
        ),
        "tampered subject": tampered(user.access_token, sub=victim.id),
        "tampered expiry": tampered(user.access_token, exp=now + 10**6),
        "another key": jwt.encode(
            jwt.decode(user.access_token, options={"verify_signature": False}),
            "another-secret-key-of-at-least-32-bytes!",
            algorithm="HS256",
        ),
        "alg none": jwt.encode(
            jwt.decode(user.access_token, options={"verify_signature": False}),
            None,
            algorithm="none",
        ),
        "revoked (logged out)": revoked.access_token,
        "a refresh token": user.refresh_token,
        "truncated": user.access_token[:-3],
    }


def test_every_bad_token_is_401_and_moves_no_money(
    settings: Settings, made_apps: list[Flask]
) -> None:
    clock = FixedClock()
    app = build_app(settings, made_apps, clock=clock)
    client = app.test_client()
    user, victim = register(client), register(client)
    ids = world(client, victim)
    tokens = bad_tokens(client, user, victim, clock)
    before = database(app)
    for name, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        for path, body in [
            (f"{API}/accounts/{ids['account']}/withdrawals", {"amount": 1}),
            (f"{API}/transfers", {"source_account_id": ids["account"],
                                  "target_account_id": ids["other"], "amount": 1}),
        ]:  # fmt: skip
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 401, (name, path, response.get_json())
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert database(app) == before


def test_150_wrong_passwords_lock_the_email_until_the_window_passes(
    settings: Settings, made_apps: list[Flask]
) -> None:
    clock = FixedClock()
    client = build_app(settings, made_apps, clock=clock).test_client()
    user = register(client)
    login = f"{API}/auth/token"
    statuses = [
        client.post(login, json={"email": user.email, "password": f"wrong {n:04d}"})
        for n in range(150)
    ]
    assert [r.status_code for r in statuses] == [401] * 5 + [429] * 145
    assert all(0 < int(r.headers["Retry-After"]) <= WINDOW.seconds for r in statuses[5:])
    locked = client.post(login, json={"email": user.email.upper(), "password": PASSWORD})
    assert locked.status_code == 429  # the right password too, and in any case of the email
    assert register(client).email  # other emails from the same address still work

    clock.advance(seconds=WINDOW.seconds - 1)
    assert client.post(login, json={"email": user.email, "password": PASSWORD}).status_code == 429
    clock.advance(seconds=2)
    assert client.post(login, json={"email": user.email, "password": PASSWORD}).status_code == 200
