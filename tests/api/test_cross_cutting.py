"""Behaviour every endpoint shares: problem details, request ids, security headers, ops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient

from backend.adapters.inbound.http.json_body import json_object_body
from backend.adapters.inbound.http.problem_types import PROBLEM_TYPES
from backend.adapters.inbound.http.problems import ProblemError
from backend.app import create_app
from backend.config import Settings
from tests.api.conftest import ApiUser
from tests.api.test_accounts_api import API, open_account
from tests.conftest import SettingsFactory

API_SLUGS = {
    "bad-request", "unauthorized", "not-found", "validation-error", "insufficient-funds",
    "same-account", "idempotency-key-reused", "email-taken", "account-closed",
    "account-not-empty", "concurrent-modification", "idempotency-key-in-use",
    "precondition-failed", "payload-too-large", "rate-limited", "service-unavailable",
}  # fmt: skip


def add_test_routes(app: Flask) -> None:
    @app.post("/_test/echo")
    def echo() -> Any:
        return jsonify(json_object_body())

    @app.post("/_test/optional")
    def optional() -> Any:
        return jsonify(json_object_body(required=False))

    @app.get("/_test/boom")
    def boom() -> Any:
        raise RuntimeError("secret internals")

    @app.get("/_test/problem/<slug>")
    def problem(slug: str) -> Any:
        raise ProblemError(slug, "Because.", retry_after=7)

    @app.get("/_test/invalid")
    def invalid() -> Any:
        raise ProblemError("validation-error", errors={"amount": ["Must be positive."]})


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    add_test_routes(app)
    yield app
    app.extensions["hexbank.container"].engine().dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json(force=True)
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["instance"] == response.request.path
    return body


# --- problem details -----------------------------------------------------------------------------


def test_every_api_problem_type_is_registered() -> None:
    assert set(PROBLEM_TYPES) >= API_SLUGS
    assert PROBLEM_TYPES["insufficient-funds"].status == 422
    assert PROBLEM_TYPES["email-taken"].status == 409


def test_unknown_api_path_is_a_not_found_problem(client: FlaskClient) -> None:
    body = assert_problem(client.get("/api/v1/nowhere"), 404, "not-found")

    assert "errors" not in body


def test_unknown_method_is_405_and_keeps_the_allow_header(client: FlaskClient) -> None:
    response = client.delete("/healthz")

    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_a_body_that_is_not_json_typed_is_415(client: FlaskClient) -> None:
    response = client.post("/_test/echo", data="amount=1", content_type="text/plain")

    assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', '{"a": NaN}', "\xff"])
def test_malformed_json_or_a_non_object_is_400(client: FlaskClient, body: str) -> None:
    response = client.post("/_test/echo", data=body, content_type="application/json")

    assert_problem(response, 400, "bad-request")


def test_a_missing_body_is_400_when_one_is_required(client: FlaskClient) -> None:
    assert_problem(client.post("/_test/echo"), 400, "bad-request")
    assert client.post("/_test/optional").get_json() == {}


def test_json_objects_and_plus_json_types_are_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/_test/echo", data='{"amount": 5}', content_type="application/merge-patch+json"
    )

    assert response.status_code == 200
    assert response.get_json() == {"amount": 5}


def test_a_body_over_the_limit_is_413(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings(HEXBANK_MAX_BODY_BYTES="64"))
    add_test_routes(app)

    response = app.test_client().post("/_test/echo", json={"pad": "x" * 100})

    assert_problem(response, 413, "payload-too-large")


def test_a_body_over_the_limit_is_413_even_where_it_is_not_read(
    make_settings: SettingsFactory,
) -> None:
    app = create_app(make_settings(HEXBANK_MAX_BODY_BYTES="64"))

    response = app.test_client().get("/healthz", data="x" * 100)

    assert_problem(response, 413, "payload-too-large")


def test_an_unhandled_error_is_a_500_problem_without_internals(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/_test/boom")

    body = assert_problem(response, 500, "internal-server-error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert "secret internals" in caplog.text  # the traceback goes to the log instead


def test_validation_problems_carry_field_errors(client: FlaskClient) -> None:
    body = assert_problem(client.get("/_test/invalid"), 422, "validation-error")

    assert body["errors"] == {"amount": ["Must be positive."]}


def test_unauthorized_problems_ask_for_a_bearer_token(client: FlaskClient) -> None:
    response = client.get("/_test/problem/unauthorized")

    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("slug", "status"), [("rate-limited", 429), ("service-unavailable", 503)])
def test_retry_after_is_sent_when_given(client: FlaskClient, slug: str, status: int) -> None:
    response = client.get(f"/_test/problem/{slug}")

    body = assert_problem(response, status, slug)
    assert response.headers["Retry-After"] == "7"
    assert body["detail"] == "Because."


def test_an_unknown_slug_needs_a_status_and_title() -> None:
    with pytest.raises(ValueError, match="unknown problem slug"):
        ProblemError("no-such-problem")


# --- request ids and headers ---------------------------------------------------------------------


def test_a_safe_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123_x.y"})

    assert response.headers["X-Request-ID"] == "abc-123_x.y"


@pytest.mark.parametrize("unsafe", ["", "has space", "new\\nline", "x" * 129, "<script>"])
def test_an_unsafe_or_missing_request_id_is_replaced(client: FlaskClient, unsafe: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": unsafe} if unsafe else {})

    generated = response.headers["X-Request-ID"]
    assert generated != unsafe
    assert len(generated) == 32
    assert int(generated, 16) >= 0


def test_errors_carry_the_request_id_too(client: FlaskClient) -> None:
    response = client.get("/nowhere", headers={"X-Request-ID": "trace-me"})

    assert response.headers["X-Request-ID"] == "trace-me"


def test_each_request_is_logged_once_with_its_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/healthz", headers={"X-Request-ID": "log-me"})

    lines = [r for r in caplog.records if r.name == "hexbank.http"]
    assert len(lines) == 1
    event = lines[0].msg
    assert isinstance(event, dict)
    assert event["request_id"] == "log-me"
    assert (event["method"], event["path"], event["status"]) == ("GET", "/healthz", 200)
    assert event["duration_ms"] >= 0


def test_security_headers_are_on_every_response(client: FlaskClient) -> None:
    for response in (client.get("/healthz"), client.get("/api/v1/nowhere")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Content-Security-Policy" not in response.headers


def test_html_responses_carry_a_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/problems/not-found")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self' ws: wss:" in policy


# --- operations ----------------------------------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_is_503_naming_a_failing_database(make_settings: SettingsFactory) -> None:
    # Nothing listens on port 1: the app still starts, and readiness says what is wrong.
    broken = make_settings(HEXBANK_DATABASE_URL="postgresql+psycopg://hexbank@127.0.0.1:1/none")
    response = create_app(broken).test_client().get("/readyz")

    body = assert_problem(response, 503, "service-unavailable")
    assert "database" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.redis
def test_readyz_checks_redis_when_configured(
    make_settings: SettingsFactory, redis_url: str
) -> None:
    response = create_app(make_settings(HEXBANK_REDIS_URL=redis_url)).test_client().get("/readyz")

    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_naming_an_unreachable_redis(make_settings: SettingsFactory) -> None:
    settings = make_settings(HEXBANK_REDIS_URL="redis://127.0.0.1:1/0")
    response = create_app(settings).test_client().get("/readyz")

    body = assert_problem(response, 503, "service-unavailable")
    assert "redis" in body["detail"]
    assert "database" not in body["detail"]


@pytest.mark.parametrize("slug", sorted(API_SLUGS))
def test_each_problem_type_has_a_page(client: FlaskClient, slug: str) -> None:
    response = client.get(f"/problems/{slug}")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert str(PROBLEM_TYPES[slug].status) in page
    assert PROBLEM_TYPES[slug].title in page


def test_an_unknown_problem_page_is_a_not_found_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/problems/no-such-thing"), 404, "not-found")


def test_problem_bodies_are_json_documents(client: FlaskClient) -> None:
    raw = client.get("/api/v1/nowhere").get_data(as_text=True)

    assert json.loads(raw)["type"] == "/problems/not-found"


# --- CORS ----------------------------------------------------------------------------------------


@pytest.fixture
def cors_client(make_settings: SettingsFactory) -> FlaskClient:
    settings = make_settings(HEXBANK_CORS_ORIGINS="https://app.example")
    return create_app(settings).test_client()


def test_a_configured_origin_gets_a_preflight_answer(cors_client: FlaskClient) -> None:
    response = cors_client.options(
        "/healthz",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "X-Request-ID" in response.headers


def test_a_configured_origin_may_read_responses(cors_client: FlaskClient) -> None:
    response = cors_client.get("/healthz", headers={"Origin": "https://app.example"})

    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("client_name", ["cors_client", "client"])
def test_other_origins_get_no_cors_headers(
    request: pytest.FixtureRequest, client_name: str
) -> None:
    client: FlaskClient = request.getfixturevalue(client_name)
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}

    preflight = client.options("/healthz", headers=headers)
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("listing", ["accounts", "transfers"])
def test_the_next_link_never_carries_the_host_header(
    client: FlaskClient, user: ApiUser, listing: str
) -> None:
    source, target = (open_account(client, user)["id"] for _ in range(2))
    client.post(f"{API}/accounts/{source}/deposits", json={"amount": 5}, headers=user.auth)
    for _ in range(2):
        move = {"source_account_id": source, "target_account_id": target, "amount": 1}
        client.post(f"{API}/transfers", json=move, headers=user.auth)
    headers = {**user.auth, "Host": "evil.example", "X-Forwarded-Host": "evil.example"}

    response = client.get(f"{API}/{listing}?limit=1", headers=headers)

    link = response.headers["Link"]
    assert link.startswith(f"</api/v1/{listing}?"), link
    assert "evil" not in link
