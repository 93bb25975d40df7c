"""R16: any string, any path, any header, in both modes (SQLite and PostgreSQL).

Every string field of every request body, every query parameter, every header the API reads
and every path segment gets lone surrogates, NUL, other control characters and 10,000-character
strings. The answer is always a 4xx problem+json (422 naming the field for body and query
strings, 404 for path segments), never a 5xx, and a refused request changes nothing: no row,
no event, no revocation. The sweep is exhaustive and bounded; `make soak` adds random
mixtures for as long as the soak runs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.adapters.inbound.http.input_policy import is_clean
from backend.app import CONTAINER_EXTENSION
from backend.config import Settings
from tests.api.conftest import PASSWORD, ApiUser, register
from tests.reliability.apps import API, build_app, database, world
from tests.reliability.stacks import scaled

#: Decoded text as a JSON string or a query parameter can carry it.
BAD_TEXT = {
    "lone high surrogate": "\ud800",
    "lone low surrogate": "ok\udfff",
    "NUL": "\x00",
    "NUL inside": "EUR\x00",
    "escape": "\x1b[2J",
    "newline": "a\nb",
    "DEL": "x\x7f",
    "C1 control": "\x85",
    "10,000 characters": "x" * 10_000,
}
SURROGATE = re.compile("[\ud800-\udfff]")
#: Header values as HTTP carries them (latin-1: no surrogates there).
BAD_HEADER = {
    "NUL": "a\x00b",
    "bell": "\x07",
    "DEL": "1\x7f",
    "unit separator": "a\x1fb",
    "10,000 characters": "x" * 10_000,
}
#: Path segments, percent-encoded: a UTF-8-encoded surrogate, NUL, controls, a huge id.
BAD_SEGMENTS = ["%ED%A0%80", "%00", "a%00b", "%1B", "%7F", "%C2%85", "x" * 10_000]
#: Random text with at least one control character or lone surrogate in it.
BAD_MIXTURES = st.tuples(
    st.text(max_size=20),
    st.characters(categories=["Cc", "Cs"]),
    st.text(st.characters(categories=["Cc", "Cs", "L", "N", "Zs"]), max_size=20),
).map("".join)
HEADERS_READ = ["Authorization", "Idempotency-Key", "If-Match", "X-Request-ID", "Origin"]


@dataclass
class Caller:
    """A user with two funded accounts and a transfer, rebuilt after a request succeeds."""

    client: FlaskClient
    user: ApiUser = field(init=False)
    ids: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.user = register(self.client)
        self.ids = world(self.client, self.user)

    def body(self, operation_id: str) -> dict[str, Any] | None:
        """A valid body for the operation, so that only the bad string is at fault."""
        fresh = f"new{next(_counter)}@example.com"
        reference = {"amount": 1, "reference": "ok"}
        bodies: dict[str, dict[str, Any]] = {
            "registerUser": {"email": fresh, "password": PASSWORD, "name": "N"},
            "createToken": {"email": self.user.email, "password": PASSWORD},
            "refreshToken": {"refresh_token": self.user.refresh_token},
            "logout": {"refresh_token": self.user.refresh_token},
            "openAccount": {"name": "Savings", "currency": "EUR"},
            "deposit": reference,
            "withdraw": reference,
            "requestTransfer": {
                **reference,
                "source_account_id": self.ids["account"],
                "target_account_id": self.ids["other"],
            },
            "createWebhook": {"url": "https://hooks.example/in", "event_types": []},
        }
        return bodies.get(operation_id)

    def path(self, template: str) -> str:
        path = template.replace("{account_id}", self.ids["account"])
        return path.replace("{transfer_id}", self.ids["transfer"])


_counter = itertools.count()


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document and the strings it reads."""

    operation_id: str
    method: str
    template: str
    body_fields: tuple[str, ...]
    query: tuple[str, ...]


def operations(app: Flask) -> list[Operation]:
    document = app.test_client().get(f"{API}/openapi.json").get_json()
    found = []
    for template, methods in document["paths"].items():
        for method, spec in methods.items():
            body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = _resolve(document, body.get("schema"))
            strings = [
                n for n, p in schema.get("properties", {}).items() if p.get("type") != "integer"
            ]
            query = [p["name"] for p in spec.get("parameters", []) if p["in"] == "query"]
            found.append(Operation(spec["operationId"], method.upper(), template,
                                   tuple(strings), tuple(query)))  # fmt: skip
    return found


def _resolve(document: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    if not schema:
        return {}
    name = schema["$ref"].rsplit("/", 1)[-1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


@dataclass
class Probe:
    """One request: the operation with one string replaced."""

    operation: Operation
    where: str
    name: str
    value: str

    def send(self, caller: Caller) -> Any:
        op, body = self.operation, caller.body(self.operation.operation_id)
        path, headers, query = caller.path(op.template), dict(caller.user.auth), ""
        if self.where == "body" and body is not None:
            body = {**body, self.name: self.value}
        elif self.where == "query":
            # A URL carries UTF-8: a surrogate goes as its three bytes, which decode to U+FFFD.
            query = f"{self.name}={quote(self.value.encode('utf-8', 'surrogatepass'), safe='')}"
        elif self.where == "header":
            headers[self.name] = self.value
        elif self.where == "path":
            path = caller.path(op.template.replace(self.name, self.value))
        return caller.client.open(path, method=op.method, json=body, headers=headers,
                                  query_string=query)  # fmt: skip


def probes(app: Flask) -> Iterator[Probe]:
    for op in operations(app):
        for value, where in itertools.product(BAD_TEXT.values(), ["body", "query"]):
            for field_name in op.body_fields if where == "body" else op.query:
                yield Probe(op, where, field_name, value)
        for name, value in itertools.product(HEADERS_READ, BAD_HEADER.values()):
            yield Probe(op, "header", name, value)
        for parameter in ("{account_id}", "{transfer_id}"):
            for segment in BAD_SEGMENTS if parameter in op.template else []:
                yield Probe(op, "path", parameter, segment)


def check(app: Flask, caller: Caller, probe: Probe) -> None:
    before = database(app)
    response = probe.send(caller)
    context = (probe.operation.operation_id, probe.where, probe.name, repr(probe.value[:20]))
    assert response.status_code < 500, (context, response.get_data(as_text=True)[:300])
    if response.status_code < 400:  # e.g. a long X-Request-ID is replaced, not refused
        caller.renew()
        return
    assert response.mimetype == "application/problem+json", context
    problem = response.get_json()
    assert problem["status"] == response.status_code, context
    if probe.where == "body" or (
        probe.where == "query"
        and is_clean(probe.value) is False
        and not SURROGATE.search(probe.value)
    ):
        assert response.status_code == 422 and probe.name in problem["errors"], (context, problem)
    if probe.where == "path":
        assert response.status_code == 404, (context, problem)
    assert database(app) == before, (context, "a refused request changed something")


@pytest.fixture
def any_mode_app(mode_settings: Settings, made_apps: list[Flask]) -> Flask:
    """The real app in each mode, without admission control: no worker runs beside it, so
    the transfers each caller makes stay pending, and admission (capacity, not input) would
    refuse new ones once the backlog could not drain."""
    app = build_app(mode_settings, made_apps)
    app.extensions[CONTAINER_EXTENSION].transfer_admission.add_kwargs(free_backlog=10**9)
    return app


def test_no_string_anywhere_gets_a_5xx_or_leaves_anything_half_done(any_mode_app: Flask) -> None:
    caller = Caller(any_mode_app.test_client())
    checked = 0
    for probe in probes(any_mode_app):
        check(any_mode_app, caller, probe)
        checked += 1
    assert checked > 500
    # Nothing revoked the login the bad logouts and refreshes presented.
    me = caller.client.get(f"{API}/users/me", headers=caller.user.auth)
    assert me.status_code == 200, me.get_json()


def test_random_mixtures_of_bad_strings(any_mode_app: Flask) -> None:
    caller = Caller(any_mode_app.test_client())
    every = list(probes(any_mode_app))
    mixtures = st.builds(
        lambda probe, text: Probe(probe.operation, probe.where, probe.name, text),
        st.sampled_from([p for p in every if p.where in ("body", "query")]),
        BAD_MIXTURES,
    )

    @given(probe=mixtures)
    @settings(max_examples=scaled(50, per_soak_minute=3_000), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(probe: Probe) -> None:
        check(any_mode_app, caller, probe)

    run()


@pytest.mark.parametrize("value", ["\ud800", "\x00"], ids=["surrogate", "NUL"])
def test_a_bad_logout_revokes_nothing(any_mode_app: Flask, value: str) -> None:
    client = any_mode_app.test_client()
    user = register(client)
    before = database(any_mode_app)

    refused = client.post(f"{API}/auth/logout", json={"refresh_token": value}, headers=user.auth)

    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["refresh_token"]
    assert database(any_mode_app) == before
    assert client.get(f"{API}/users/me", headers=user.auth).status_code == 200
    renewed = client.post(f"{API}/auth/refresh", json={"refresh_token": user.refresh_token})
    assert renewed.status_code == 200
