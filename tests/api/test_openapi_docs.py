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

# The document itself, and the WebSocket (described in API.md, not an HTTP operation).
NOT_HTTP_OPERATIONS = {"/api/v1/openapi.json", "/api/v1/ws"}


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
        if not rule.rule.startswith("/api/v1/") or rule.rule in NOT_HTTP_OPERATIONS:
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


def test_the_docs_page_is_served_locally_under_the_csp(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/api/docs/static/' in attrs and not body.strip()
                           for attrs, body in scripts)  # fmt: skip
    assert "http" not in "".join(attrs for attrs, _ in scripts)
    for asset in ("/api/docs/static/docs.js", "/api/docs/static/docs.css"):
        assert client.get(asset).status_code == 200


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
