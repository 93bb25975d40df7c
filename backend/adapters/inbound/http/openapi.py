"""The OpenAPI 3.1 document of /api/v1, generated from the marshmallow schemas (apispec)."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from backend.adapters.inbound.http import (
    daily_balance_views,
    event_schemas,
    meta_views,
    schemas,
    transfer_views,
)
from backend.adapters.inbound.http.input_policy import TEXT_PATTERN
from backend.adapters.inbound.http.openapi_ops import OPS_PATHS
from backend.adapters.inbound.http.openapi_paths import PATHS, Operation
from backend.adapters.inbound.http.problem_types import PROBLEM_TYPES
from backend.config import Settings

COMPONENT_SCHEMAS = {
    "RegisterUser": schemas.RegisterUserSchema,
    "TokenRequest": schemas.TokenRequestSchema,
    "RefreshRequest": schemas.RefreshRequestSchema,
    "OpenAccount": schemas.OpenAccountSchema,
    "MoneyCommand": schemas.MoneyCommandSchema,
    "User": schemas.UserSchema,
    "TokenPair": schemas.TokenPairSchema,
    "Account": schemas.AccountSchema,
    "Transaction": schemas.TransactionSchema,
    "Event": schemas.EventSchema,
    "AccountPage": schemas.AccountPageSchema,
    "TransactionPage": schemas.TransactionPageSchema,
    "EventPage": schemas.EventPageSchema,
    "RequestTransfer": transfer_views.RequestTransferSchema,
    "Transfer": transfer_views.TransferSchema,
    "TransferPage": transfer_views.TransferPageSchema,
    "Problem": schemas.ProblemSchema,
    **daily_balance_views.SCHEMAS,
    **meta_views.SCHEMAS,
    **event_schemas.SCHEMAS,
}

#: Every operation: the core table, then the additive endpoints that keep their own modules.
ALL_PATHS = {**PATHS, **daily_balance_views.PATHS, **meta_views.PATHS, **event_schemas.PATHS}

DESCRIPTION = (
    "hexbank: event-sourced accounts. Money is an integer `amount` in the currency's minor unit. "
    "Every error is `application/problem+json` (RFC 9457); `GET /problems/{slug}` explains each "
    "type. Deposits, withdrawals and transfers accept `Idempotency-Key`: a repeat with the "
    "same body within 24 hours replays the first response with `Idempotent-Replayed: true`, "
    "a refusal (e.g. `insufficient-funds`, `not-found`) as well as a success; a validation "
    "error, `precondition-failed`, a conflict or an outage frees the key. Strings (bodies, "
    "query parameters, path segments) must not hold control characters or lone UTF-16 "
    "surrogates: 422 naming the field (404 for a path segment), see `pattern`."
)


def build_spec(settings: Settings) -> dict[str, Any]:
    """The whole document as a dict (built once per app)."""
    plugin = MarshmallowPlugin(schema_name_resolver=_no_auto_names)  # type: ignore[arg-type]
    spec = APISpec(
        title="hexbank API",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        servers=[{"url": "/"}],
    )
    converter: Any = plugin.converter  # set when the spec initialised its plugins
    converter.add_attribute_function(_what_the_server_accepts)
    for name, schema in COMPONENT_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    _add_headers(spec)
    for path, operations in ALL_PATHS.items():
        spec.path(path=path, operations={m: op.render() for m, op in operations.items()})
    for path, described in OPS_PATHS.items():
        spec.path(path=path, operations=described)
    document = spec.to_dict()
    _enum_currencies(document, settings.currencies)
    event_schemas.add_event_docs(document)
    return document


def _what_the_server_accepts(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """What marshmallow's validators do not show: the input policy on request strings
    (input_policy.py) and JSON integers that must be written as integers."""
    if isinstance(field, schemas.JsonInteger):
        said = ret.get("description")
        return {"description": f"{said} {field.DOCUMENTED}" if said else field.DOCUMENTED}
    request = isinstance(field.parent, schemas.StrictSchema)
    if request and isinstance(field, fields.String) and not isinstance(field, fields.Email):
        # A field's own pattern (currency, a name not blank, a cursor) already excludes them.
        return {} if "pattern" in ret else {"pattern": TEXT_PATTERN}
    return {}


def _no_auto_names(schema: Any) -> None:
    return None  # nested schemas are registered explicitly above


def _add_headers(spec: APISpec) -> None:
    def header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "schema": schema}

    integer = {"type": "integer", "minimum": 0}
    spec.components.header("Retry-After", header("Seconds to wait before retrying.", integer))
    spec.components.header("ETag", header('The account version, e.g. "3".', {"type": "string"}))
    spec.components.header("Location", header("URL of the created resource.", {"type": "string"}))
    spec.components.header("Link", header('`<url>; rel="next"` when there is a next page.',
                                          {"type": "string"}))  # fmt: skip
    spec.components.header(
        "Idempotent-Replayed",
        header("`true` when this is the replay of an earlier response.", {"type": "string"}),
    )
    spec.components.header("WWW-Authenticate", header("`Bearer` on every 401.", {"type": "string"}))


def _enum_currencies(document: dict[str, Any], currencies: tuple[str, ...]) -> None:
    # The supported currencies are configuration, so the schema learns them at start-up.
    currency = document["components"]["schemas"]["OpenAccount"]["properties"]["currency"]
    currency["enum"] = list(currencies)


def problem_slugs() -> list[str]:
    return sorted(PROBLEM_TYPES)


__all__ = ["Operation", "build_spec"]
