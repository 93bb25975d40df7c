"""Security checks that need real processes: R15 (no password, token or secret in the JSON
logs of a live server; password hashes are argon2id, read from the users table) and the
WebSocket half of R9 (a socket is never pushed another user's resources)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import TEST_SECRET_KEY
from tests.live_stack import Client, Stack, User
from tests.reliability.audit import database_url, query

pytestmark = pytest.mark.e2e


def signed_up(client: Client, password: str) -> User:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    client.expect(201, "POST", "/users", json={"email": email, "password": password, "name": "S"})
    tokens = client.expect(200, "POST", "/auth/token", json={"email": email, "password": password})
    return User(email, tokens["access_token"], tokens["refresh_token"])


@contextmanager
def socket(base_url: str, user: User) -> Iterator[ClientConnection]:
    with connect(base_url.replace("http", "ws") + "/api/v1/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "access_token": user.access_token}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "ready"}
        yield ws


def messages_until(ws: ClientConnection, *ids: str) -> list[dict[str, Any]]:
    """Every push until one about each of `ids` (accounts, transfers) has come, each within
    15 s. Not up to a given one: pushes of two saga jobs may arrive in either order."""
    seen: list[dict[str, Any]] = []
    while not set(ids) <= {m["data"]["id"] for m in seen}:
        seen.append(json.loads(ws.recv(timeout=15)))
    return seen


def assert_deep_json_closes_the_socket(base_url: str) -> None:
    """A first message nested deeper than the parser's stack is a bad auth: 4401."""
    with connect(base_url.replace("http", "ws") + "/api/v1/ws", open_timeout=10) as ws:
        ws.send("[" * 4000)  # under the 4 KiB message limit, far over the parser stack
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def exercise(client: Client, secrets: list[str]) -> tuple[User, User]:
    """Sign-ups, failed and good logins, refresh, logout, commands with keys; every secret
    handed out or sent goes into `secrets`."""
    passwords = [f"pw-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"]
    alice, bob = (signed_up(client, p) for p in passwords)
    wrong = f"wrong-{uuid.uuid4().hex}"
    client.expect(401, "POST", "/auth/token", json={"email": alice.email, "password": wrong})
    refreshed = client.expect(
        200, "POST", "/auth/refresh", json={"refresh_token": bob.refresh_token}
    )
    client.expect(401, "POST", "/auth/refresh", json={"refresh_token": bob.refresh_token})  # reuse
    bob = signed_up_again(client, bob, passwords[1])
    client.expect(204, "POST", "/auth/logout", alice, json={"refresh_token": alice.refresh_token})
    client.expect(401, "GET", "/users/me", alice)
    secrets += [*passwords, wrong, refreshed["access_token"], refreshed["refresh_token"]]
    secrets += [alice.access_token, alice.refresh_token]
    secrets += [bob.access_token, bob.refresh_token]
    return signed_up_again(client, alice, passwords[0]), bob


def signed_up_again(client: Client, user: User, password: str) -> User:
    tokens = client.expect(
        200, "POST", "/auth/token", json={"email": user.email, "password": password}
    )
    return User(user.email, tokens["access_token"], tokens["refresh_token"])


def test_a_live_session_keeps_secrets_out_of_logs_and_users_apart(embedded: Stack) -> None:
    embedded.extra_env["HEXBANK_LOG_LEVEL"] = "DEBUG"  # the chattiest the server gets
    web = embedded.serve()
    client, secrets = Client(web.url), [TEST_SECRET_KEY]
    alice, bob = exercise(client, secrets)
    secrets += [alice.access_token, alice.refresh_token, bob.access_token, bob.refresh_token]
    mine, theirs = client.open_account(alice), client.open_account(bob, deposit=500)
    other_of_bob = client.open_account(bob)

    with socket(web.url, alice) as ws, socket(web.url, bob) as bobs_ws:
        key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
        client.expect(
            201, "POST", f"/accounts/{theirs}/deposits", bob, json={"amount": 7}, headers=key
        )
        transfer = client.transfer(bob, theirs, other_of_bob, 5)
        client.wait_terminal(bob, transfer["id"])
        client.expect(201, "POST", f"/accounts/{mine}/deposits", alice, json={"amount": 3})
        pushed = messages_until(ws, mine)
        bobs = messages_until(bobs_ws, theirs, transfer["id"], other_of_bob)  # Bob gets his own
    assert {m["data"]["id"] for m in pushed} <= {mine}, pushed  # nothing of Bob's
    assert {m["data"]["id"] for m in bobs} <= {theirs, transfer["id"], other_of_bob}, bobs

    assert_deep_json_closes_the_socket(web.url)
    web.stop()
    logs = embedded.logs()
    assert '"event": "request"' in logs, "the server logged no JSON request lines"
    for secret in secrets:
        # Also each JWT's signature alone: a logged token might be cut anywhere before it.
        for fragment in {secret, secret.rsplit(".", 1)[-1]}:
            assert fragment not in logs, f"a secret ({fragment[:6]}…) is in the logs"
    hashes = query(database_url(embedded), text("SELECT password_hash FROM users"))
    assert hashes and all(h.startswith("$argon2id$") for (h,) in hashes), hashes
