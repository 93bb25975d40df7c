"""Bad input at volume: a hypothesis fuzz of every /api/v1 route's JSON body, headers, query
and path (huge numbers, deep nesting, unicode, invalid UTF-8, duplicate keys, 1 MiB bodies)
must only ever get 2xx or 4xx problems, never a 5xx.

schemathesis (tests/api/test_schemathesis.py) already checks every operation against the
OpenAPI document with schema-shaped data; this fuzz sends what no schema describes.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import register
from tests.reliability.stacks import scaled

MAX_BODY = 65_536
API_RULES = "/api/v1/"
FIELDS = [
    "amount", "name", "currency", "email", "password", "reference", "refresh_token",
    "source_account_id", "target_account_id", "balance", "owner_id", "status", "__proto__",
]  # fmt: skip
NUMBERS = st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**30, 10**4000 // 10**3990, 1e308, -0.0])
LATIN1 = st.text(
    st.characters(min_codepoint=32, max_codepoint=255), max_size=300
) | st.sampled_from(["a\x00b", "\x07", "\x1f", "\x7f", "x" * 10_000])


def json_values() -> st.SearchStrategy[Any]:
    odd_text = st.sampled_from(
        ["", "EUR", "1e400", "NaN", "\u202e\U0001f4b8", "\x00", "\ud800", "a\udfff", "\x1b", "\x85",
         "x" * 10_000]
    )  # fmt: skip
    scalars: st.SearchStrategy[Any] = st.one_of(
        st.none(), st.booleans(), st.integers(), NUMBERS, st.floats(allow_nan=False),
        st.text(max_size=50), odd_text,
    )  # fmt: skip
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
        ),
        max_leaves=12,
    )


RAW_BODIES = st.sampled_from([
    b"[" * 5000 + b"]" * 5000,                      # deeper than the parser's stack
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"amount": 1, "amount": 2}',                  # duplicate names
    b'{"amount": 1e400}', b'{"amount": NaN}', b'{"amount": Infinity}',
    b'{"amount": ' + b"9" * 5000 + b"}",            # longer than int() allows
    b"\xff\xfe\x00{", b'{"name": "\xed\xa0\x80"}',  # invalid UTF-8, a lone surrogate
    b'{"name": "\\ud800"}', b"", b"null", b"   ", b'"text"',
    b'{"amount": 1, "reference": "' + b"x" * (1 << 20) + b'"}',  # 1 MiB
])  # fmt: skip


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


#: Cursors as the server makes them, with keys no 64-bit column holds, or nested too deep.
LISTINGS = st.sampled_from(["accounts", "transactions", "events", "transfers"])
CURSORS = st.builds(
    _cursor, st.fixed_dictionaries({"k": LISTINGS, "v": NUMBERS | st.integers()})
) | st.just(base64.urlsafe_b64encode(b"[" * 3000).decode())
#: Path segments as sent, percent-encoded: NUL, a UTF-8-encoded surrogate, controls.
RAW_SEGMENTS = ["%00", "a%00b", "%ED%A0%80", "%1B", "%7F", "%C2%85"]
ODD_QUERY_VALUES = [
    "100000", "-1", "1e3", "0x10", "9" * 30, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
    "2026-02-30T00:00:00Z", "2026-11-21T10:00:00", "pending", "\x00",
]  # fmt: skip

CONTENT_TYPES = st.sampled_from([
    "application/json", "application/json; charset=latin-1", "text/plain",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/merge-patch+json", "application/problem+json", "", "*/*", "json",
])  # fmt: skip


@pytest.fixture
def caller(app: Flask) -> dict[str, str]:
    client = app.test_client()
    user = register(client)
    account = client.post("/api/v1/accounts", json={"name": "A", "currency": "EUR"},
                          headers=user.auth).get_json()["id"]  # fmt: skip
    client.post(f"/api/v1/accounts/{account}/deposits", json={"amount": 500}, headers=user.auth)
    other = client.post("/api/v1/accounts", json={"name": "B", "currency": "EUR"},
                        headers=user.auth).get_json()["id"]  # fmt: skip
    body = {"source_account_id": account, "target_account_id": other, "amount": 5}
    transfer = client.post("/api/v1/transfers", json=body, headers=user.auth).get_json()["id"]
    return {"token": user.access_token, "refresh": user.refresh_token,
            "account_id": account, "transfer_id": transfer}  # fmt: skip


def routes(app: Flask) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_RULES) and not rule.rule.endswith("/ws")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


@st.composite
def requests_to(draw: st.DrawFn, app: Flask, caller: dict[str, str]) -> dict[str, Any]:
    rule, method = draw(st.sampled_from(routes(app)))
    ids = st.sampled_from([caller["account_id"], caller["transfer_id"], "x" * 300, "..",
                           "x" * 10_000]) | st.text(min_size=1, max_size=20)  # fmt: skip
    encoded = ids.map(lambda text: quote(text, safe="")) | st.sampled_from(RAW_SEGMENTS)
    path = rule
    for name in ("<account_id>", "<transfer_id>"):
        path = path.replace(name, draw(encoded))
    body = draw(st.none() | RAW_BODIES | json_values().map(lambda v: json.dumps(v).encode()))
    headers = {"Content-Type": draw(CONTENT_TYPES)} if body is not None else {}
    token = draw(st.sampled_from([caller["token"]] * 4 + ["", "x.y.z", caller["refresh"]]))
    headers |= {"Authorization": draw(st.sampled_from(["Bearer ", "bearer ", ""])) + token}
    extra = ["Idempotency-Key", "If-Match", "X-Request-ID", "Accept", "Origin"]
    headers |= draw(st.dictionaries(st.sampled_from(extra), LATIN1, max_size=3))
    query_keys = st.sampled_from(["limit", "cursor", "as_of", "status", "account_id", "x"])
    values = st.text(max_size=40) | LATIN1 | CURSORS | st.sampled_from(ODD_QUERY_VALUES)
    query = draw(st.dictionaries(query_keys, values, max_size=3))
    return {"method": method, "path": path, "data": body, "headers": headers,
            "query_string": query}  # fmt: skip


def assert_no_server_error(client: FlaskClient, request: dict[str, Any]) -> None:
    response = client.open(**request)
    assert response.status_code < 500, (request, response.get_data(as_text=True)[:500])
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", request
        assert response.get_json()["status"] == response.status_code
    if request["data"] is not None and len(request["data"]) > MAX_BODY:
        assert response.status_code == 413, request


def test_no_request_gets_a_server_error(app: Flask, caller: dict[str, str]) -> None:
    client = app.test_client()

    @given(request=requests_to(app, caller))
    @settings(max_examples=scaled(600, per_soak_minute=6_000), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(request: dict[str, Any]) -> None:
        assert_no_server_error(client, request)

    check()


def test_a_body_above_the_limit_is_413_on_every_route(app: Flask, caller: dict[str, str]) -> None:
    client, body = app.test_client(), b"{" + b" " * (1 << 20) + b"}"
    for rule, method in routes(app):
        path = rule.replace("<account_id>", caller["account_id"])
        path = path.replace("<transfer_id>", caller["transfer_id"])
        response = client.open(path, method=method, data=body, content_type="application/json",
                               headers={"Authorization": f"Bearer {caller['token']}"})  # fmt: skip
        assert response.status_code == 413, (method, path, response.status_code)
        assert response.get_json()["type"] == "/problems/payload-too-large"


@pytest.mark.parametrize("key", [2**63, 10**30, -1])
def test_a_cursor_key_beyond_64_bits_is_422_on_every_listing(
    client: FlaskClient, caller: dict[str, str], key: int
) -> None:
    auth = {"Authorization": f"Bearer {caller['token']}"}
    listings = {
        "accounts": "/api/v1/accounts",
        "transactions": f"/api/v1/accounts/{caller['account_id']}/transactions",
        "events": f"/api/v1/accounts/{caller['account_id']}/events",
        "transfers": "/api/v1/transfers",
    }
    for kind, path in listings.items():
        for cursor in (_cursor({"k": kind, "v": key}), _cursor(json.loads("[" * 5 + "]" * 5))):
            response = client.get(path, query_string={"cursor": cursor}, headers=auth)
            assert response.status_code == 422, (path, key, response.get_data(as_text=True))
            assert "cursor" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "body",
    [b'{"amount": 1, "amount": 2}', b'{"a": {"b": 1, "b": 1}}', b"[" * 5000, b'{"a":' * 3000],
    ids=["duplicate name", "nested duplicate", "deep array", "deep object"],
)
def test_ambiguous_or_absurdly_deep_json_is_400(client: FlaskClient, body: bytes) -> None:
    response = client.post("/api/v1/users", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["type"] == "/problems/bad-request"
