"""Stateful conformance: schemathesis chains operations along the OpenAPI document's links
(register → log in → refresh or log out; open an account → deposit, withdraw, read, close,
transfer out of it → the transfer and its source account), in both modes (SQLite, and
PostgreSQL with Redis), and checks every response against the document — statuses, bodies,
headers, no 5xx — plus its stateful checks (a resource just created can be read; nothing is
usable after it is gone; auth is never ignored).

Bounded and deterministic: SCENARIOS scenarios of at most STEPS steps each, derandomized.
Each scenario runs as a fresh registered user; a log-in along a link switches the scenario to
that login's token, so the chain is the one a client walks.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis
from dependency_injector import providers
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode

from tests.api.conftest import register
from tests.api.test_accounts_api import API
from tests.api.test_schemathesis import _server_minted_only

SCENARIOS = 30
STEPS = 10
LOG_IN = "POST /api/v1/auth/token"
REGISTER = "POST /api/v1/users"


class Admitted:
    """Admission control that admits every transfer: it refuses by the measured drain rate
    (time, not input), which would make a replayed scenario answer differently."""

    def refresh(self) -> None:
        """Nothing to measure."""

    def admit(self) -> None:
        """Every transfer is admitted."""


def _fresh_email(case: Any) -> None:
    """A registration's email made unique (the same prefix length for every case, so a case
    valid or not stays so): an email taken by an earlier scenario would answer 409 to what
    answered 201 the first time, and Hypothesis would find the scenarios inconsistent."""
    body = case.body
    registering = case.operation.label == REGISTER and isinstance(body, dict)
    if registering and isinstance(email := body.get("email"), str):
        body["email"] = f"{uuid.uuid4().hex[:8]}{email}"


def test_chained_operations_conform_to_the_openapi_document(any_mode_app: Flask) -> None:
    container = any_mode_app.extensions["hexbank.container"]
    container.transfer_admission.override(providers.Object(Admitted()))
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", any_mode_app)
    checks = schema.config.checks
    # As in the stateless test: an If-Match off its pattern never matches, 412.
    checks.negative_data_rejection.expected_statuses = [
        *checks.negative_data_rejection.expected_statuses, "412",
    ]  # fmt: skip
    # Along a chain, schema-valid requests meet the bank's rules (a withdrawal over the
    # balance, closing a non-empty account): documented 4xx, not a rejection of valid data.
    checks.positive_data_acceptance.enabled = False
    client = any_mode_app.test_client()
    token: dict[str, str] = {}  # the current scenario's access token

    @schema.auth()
    class ScenarioToken:
        """The scenario's login, handed to schemathesis as the configured credentials (so its
        auth checks know them valid, and still probe the operation without them)."""

        def get(self, case: Any, context: Any) -> str:
            return token["access"]

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    class Chains(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            token["access"] = register(client).access_token

        def before_call(self, case: Any) -> None:
            if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
                _server_minted_only(case)
            _fresh_email(case)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if case.operation.label == LOG_IN and response.status_code == 200:
                token["access"] = response.json()["access_token"]

    Chains.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],  # no shrinking: a failure is reported as found
            suppress_health_check=list(HealthCheck),
        )
    )
