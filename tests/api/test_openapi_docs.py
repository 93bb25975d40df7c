"""The OpenAPI document and the self-hosted interactive docs."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import ApiUser, js

V1_ROUTES = {
    ("post", "/api/v1/users"), ("get", "/api/v1/users/me"), ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/accounts"), ("get", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{account_id}"), ("post", "/api/v1/accounts/{account_id}/deposits"),
    ("post", "/api/v1/accounts/{account_id}/withdrawals"),
    ("post", "/api/v1/accounts/{account_id}/close"),
    ("get", "/api/v1/accounts/{account_id}/transactions"),
    ("get", "/api/v1/accounts/{account_id}/events"),
}  # fmt: skip

# Described too, though not JSON operations of the API (openapi_ops.py).
OPS_ROUTES = {
    ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/problems/{slug}"),
    ("get", "/api/v1/openapi.json"), ("get", "/api/v1/ws"), ("get", "/api/v1/meta"),
}  # fmt: skip


def test_the_document_is_openapi_3_1_with_every_account_and_identity_route(
    client: FlaskClient,
) -> None:
    spec = js(client.get("/api/v1/openapi.json"))
    assert spec["openapi"] == "3.1.0"
    documented = {(m, path) for path, ops in spec["paths"].items() for m in ops}
    assert documented >= V1_ROUTES
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["components"]["schemas"]["MoneyCommand"]["properties"]["amount"]["type"] == (
        "integer"
    )


def test_every_flask_route_under_v1_is_documented(app: Flask, client: FlaskClient) -> None:
    spec = js(client.get("/api/v1/openapi.json"))
    documented = {(m, path) for path, ops in spec["paths"].items() for m in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (method.lower(), path) in documented


def test_problem_responses_are_problem_json(client: FlaskClient) -> None:
    spec = js(client.get("/api/v1/openapi.json"))
    deposit = spec["paths"]["/api/v1/accounts/{account_id}/deposits"]["post"]["responses"]
    for status in ("400", "401", "404", "409", "412", "413", "415", "422", "429", "503"):
        content = deposit[status]["content"]
        assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert "Retry-After" in deposit["429"]["headers"]


def test_the_ops_endpoints_and_the_websocket_are_described(client: FlaskClient) -> None:
    spec = js(client.get("/api/v1/openapi.json"))
    documented = {(m, path) for path, ops in spec["paths"].items() for m in ops}
    assert documented >= OPS_ROUTES
    ws = spec["paths"]["/api/v1/ws"]["get"]
    assert "101" in ws["responses"] and "docs/websocket.md" in ws["description"]
    assert '"type": "auth"' in ws["description"] and "4401" in ws["description"]
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "Retry-After" in spec["paths"]["/readyz"]["get"]["responses"]["503"]["headers"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path


def test_the_document_says_what_the_input_policy_refuses(client: FlaskClient) -> None:
    spec = js(client.get("/api/v1/openapi.json"))
    schemas = spec["components"]["schemas"]
    for name in ("RegisterUser", "TokenRequest", "RefreshRequest", "OpenAccount",
                 "MoneyCommand", "RequestTransfer"):  # fmt: skip
        for field, prop in schemas[name]["properties"].items():
            if "string" in prop["type"] and prop.get("format") != "email":
                assert not re.search(prop["pattern"], "o\x00k"), (name, field)
    name = schemas["OpenAccount"]["properties"]["name"]["pattern"]
    assert not re.search(name, "   ") and re.search(name, " Savings ")
    assert "7.0" in schemas["MoneyCommand"]["properties"]["amount"]["description"]
    if_match = next(
        p for p in spec["paths"]["/api/v1/accounts/{account_id}/close"]["post"]["parameters"]
        if p["name"] == "If-Match"
    )  # fmt: skip
    assert not re.search(if_match["schema"]["pattern"], "") and re.search(
        if_match["schema"]["pattern"], '"3"'
    )


def test_a_name_of_spaces_only_is_refused_naming_it(client: FlaskClient, user: ApiUser) -> None:
    response = client.post(
        "/api/v1/accounts", json={"name": "   ", "currency": "EUR"}, headers=user.auth
    )
    assert response.status_code == 422 and "name" in js(response)["errors"]
