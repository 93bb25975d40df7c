"""R9 object-level authorization, R11 mass assignment, R12 money input, in-process.

R9: Alice's token on every route with Bob's ids and with ids that never existed gets the very
same answer (status, problem body, headers), none of Bob's data, and nothing changes. The
WebSocket side (Bob's resources never pushed to Alice) is in test_live_security.py and
tests/e2e/test_websocket.py::test_a_user_never_receives_another_users_data.
Per-route basics already in tests/api (test_another_users_account_is_not_found_on_every_route,
test_target_owner_sees_the_transfer_and_a_stranger_gets_404) are extended here to every
route, If-Match and Idempotency-Key oracles, and a check of the whole database.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE
from tests.api.conftest import ApiUser, register
from tests.reliability.apps import API, database, world

Route = tuple[str, str, dict[str, Any] | None, dict[str, str]]


def routes(ids: dict[str, str], mine: str, key: str = "bobs-key") -> list[Route]:
    """Every route that takes an id, with `ids` (someone's, or never existing) in it; a keyed
    request with Idempotency-Key `key`."""
    account, transfer = f"{API}/accounts/{ids['account']}", f"{API}/transfers/{ids['transfer']}"
    move = {"source_account_id": ids["account"], "target_account_id": mine, "amount": 1}
    return [
        ("GET", account, None, {}),
        ("GET", f"{account}?as_of=2030-01-01T00:00:00Z", None, {}),
        ("GET", f"{account}/transactions", None, {}),
        ("GET", f"{account}/events?limit=1", None, {}),
        ("GET", f"{account}/daily-balances", None, {}),
        ("POST", f"{account}/deposits", {"amount": 5}, {}),
        ("POST", f"{account}/deposits", {"amount": 5}, {"If-Match": '"2"'}),  # no 412 oracle
        ("POST", f"{account}/withdrawals", {"amount": 5}, {"If-Match": '"99"'}),
        ("POST", f"{account}/close", None, {"If-Match": '"1"'}),
        ("GET", transfer, None, {}),
        ("GET", f"{API}/transfers?account_id={ids['account']}", None, {}),
        ("POST", f"{API}/transfers", move, {}),
        ("POST", f"{API}/transfers", move, {"Idempotency-Key": key}),  # bob's key: no replay
    ]


def answer(client: FlaskClient, user: ApiUser, route: Route) -> tuple[int, Any, dict[str, str]]:
    method, path, body, headers = route
    response = client.open(path, method=method, json=body, headers={**user.auth, **headers})
    payload = response.get_json()
    if isinstance(payload, dict):
        payload.pop("instance", None)  # the request path, which differs by construction
    kept = {k: v for k, v in response.headers if k not in ("X-Request-ID", "Content-Length")}
    return response.status_code, payload, kept


def test_anothers_ids_answer_exactly_like_ids_that_never_existed(app: Flask) -> None:
    client = app.test_client()
    alice, bob = register(client), register(client)
    bobs = world(client, bob, key="bobs-key")
    mine = world(client, alice)["account"]
    ghosts = {"account": str(uuid.uuid4()), "transfer": str(uuid.uuid4())}
    before = database(app)

    # A refusal is recorded under the caller's key (and replayed to its repeats): one key per
    # request here, so the ghost's request is not a repeat of the other with another body.
    pairs = zip(routes(bobs, mine), routes(ghosts, mine, key="ghost-key"), strict=True)
    for theirs, never in pairs:
        seen, ghost = answer(client, alice, theirs), answer(client, alice, never)
        assert seen == ghost, (theirs, seen, ghost)
        assert seen[0] in (404, 200), theirs  # 200: a filtered list, empty either way
        assert not {bob.id, *bobs.values()} & set(repr(seen).split("'")), theirs

    after = database(app)
    keys_before, keys_after = before.pop("idempotency_keys"), after.pop("idempotency_keys")
    assert after == before, "a refused request changed something"
    recorded = [row for row in keys_after if row not in keys_before]
    assert sorted(row[:2] for row in recorded) == [(alice.id, "bobs-key"), (alice.id, "ghost-key")]
    assert all("NotFound" in repr(row) for row in recorded)  # alice's refusals, nothing of bob's


def test_every_route_with_an_id_is_covered(app: Flask) -> None:
    covered = {
        (m, p.split("?")[0]) for m, p, _, _ in routes({"account": "A", "transfer": "T"}, "M")
    }
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) and rule.arguments & {"account_id", "transfer_id"}:
            path = rule.rule.replace("<account_id>", "A").replace("<transfer_id>", "T")
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                assert (method, f"{path}") in covered, f"R9 does not check {method} {rule.rule}"


# --- R11 mass assignment -------------------------------------------------------------------

PROTECTED: dict[str, Any] = {
    "balance": 10**6, "owner_id": "someone", "status": "closed", "version": 99,
    "is_admin": True, "id": "chosen", "available_balance": 5, "currency": "USD",
}  # fmt: skip


@pytest.mark.parametrize("field", sorted(PROTECTED))
def test_extra_fields_are_422_and_change_nothing(app: Flask, field: str) -> None:
    client = app.test_client()
    user = register(client)
    ids = world(client, user)
    bodies: dict[str, dict[str, Any]] = {
        f"{API}/accounts": {"name": "x", "currency": "EUR"},
        f"{API}/accounts/{ids['account']}/deposits": {"amount": 1},
        f"{API}/accounts/{ids['account']}/withdrawals": {"amount": 1},
        f"{API}/accounts/{ids['account']}/close": {},
        f"{API}/transfers": {"source_account_id": ids["account"],
                             "target_account_id": ids["other"], "amount": 1},
        f"{API}/users": {"email": "new@example.com", "password": "long enough pw", "name": "N"},
    }  # fmt: skip
    before = database(app)
    for path, body in bodies.items():
        if field in body:
            continue  # currency is a real field of account opening
        response = client.post(path, json={**body, field: PROTECTED[field]}, headers=user.auth)
        assert response.status_code == 422, (path, field, response.get_json())
        assert field in response.get_json()["errors"], (path, field)
    assert database(app) == before


def test_responses_carry_only_their_schema_and_never_a_hash(client: FlaskClient) -> None:
    user = register(client)
    ids = world(client, user)
    account = client.get(f"{API}/accounts/{ids['account']}", headers=user.auth).get_json()
    me = client.get(f"{API}/users/me", headers=user.auth).get_json()
    assert set(account) == {"id", "name", "currency", "balance", "available_balance", "status",
                            "version", "opened_at", "updated_at"}  # fmt: skip
    assert set(me) == {"id", "email", "name", "created_at"}
    assert "argon2" not in client.get(f"{API}/users/me", headers=user.auth).get_data(as_text=True)


# --- R12 money input -----------------------------------------------------------------------

MONEY_BODIES = [
    ('{"amount": 0}', "application/json", 422), ('{"amount": -1}', "application/json", 422),
    ('{"amount": 1.5}', "application/json", 422), ('{"amount": "10"}', "application/json", 422),
    ('{"amount": 1e400}', "application/json", 422), ('{"amount": 1.0}', "application/json", 422),
    ('{"amount": 9223372036854775808}', "application/json", 422),
    ('{"amount": NaN}', "application/json", 400),
    ('{"amount": -Infinity}', "application/json", 400),
    ('{"amount": true}', "application/json", 422), ('{"amount": null}', "application/json", 422),
    ("{}", "application/json", 422), ('{"amount": 10}', "text/plain", 415),
    ("amount=10", "application/x-www-form-urlencoded", 415),
]  # fmt: skip


def test_bad_money_is_refused_everywhere_and_appends_nothing(app: Flask) -> None:
    client = app.test_client()
    user = register(client)
    ids = world(client, user)
    before = database(app)
    paths = [f"{API}/accounts/{ids['account']}/deposits",
             f"{API}/accounts/{ids['account']}/withdrawals", f"{API}/transfers"]  # fmt: skip
    for path in paths:
        for body, content_type, status in MONEY_BODIES:
            if path.endswith("/transfers"):
                body = naming_accounts(body, ids)
            response = client.post(path, data=body, content_type=content_type, headers=user.auth)
            assert response.status_code == status, (path, body, response.get_json())
    assert database(app) == before


def naming_accounts(body: str, ids: dict[str, str]) -> str:
    """A transfer body: the money body with a valid source and target in front."""
    if not body.startswith("{"):
        return body
    accounts = f'"source_account_id": "{ids["account"]}", "target_account_id": "{ids["other"]}"'
    rest = body[1:].strip()
    return "{" + accounts + ("}" if rest == "}" else ", " + rest)


def test_unknown_or_lowercase_currencies_open_no_account(app: Flask) -> None:
    client = app.test_client()
    user = register(client)
    before = database(app)
    for currency in ("XXX", "eur", "EURO", "", None, 978):
        body = {"name": "x", "currency": currency}
        response = client.post(f"{API}/accounts", json=body, headers=user.auth)
        assert response.status_code == 422 and "currency" in response.get_json()["errors"]
    assert database(app) == before


def test_no_amount_is_stored_as_a_float(app: Flask) -> None:
    client = app.test_client()
    world(client, register(client))
    engine: Engine = app.extensions["hexbank.container"].engine()
    with engine.connect() as connection:
        data = connection.execute(select(events.c.data)).scalars().all()
        amounts = connection.execute(select(LIVE.transactions.c.amount)).scalars().all()
    assert [d["amount"] for d in data if "amount" in d] and amounts
    assert all(type(d["amount"]) is int for d in data if "amount" in d)
    assert all(type(amount) is int for amount in amounts)
