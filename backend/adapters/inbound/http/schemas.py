"""marshmallow schemas of every request body, query string and response of /api/v1.

The same classes validate requests, serialise responses and generate the OpenAPI document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from flask import request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from backend.adapters.inbound.http.problems import ProblemError
from backend.application.pagination import DEFAULT_LIMIT, MAX_LIMIT
from backend.domain.money import MAX_AMOUNT

S = TypeVar("S", bound=Schema)


@cache
def shared(schema: type[S]) -> S:
    """The one instance of a schema class that requests use: marshmallow 4 schemas keep no
    per-call state, and building one deep-copies every declared field (a few percent of a
    deposit's CPU)."""
    return schema()


class JsonInteger(fields.Integer):
    """A JSON integer and nothing else: floats (even 7.0), strings and booleans are refused."""

    default_error_messages = {"invalid": "Not a valid integer."}  # noqa: RUF012

    def _validated(self, value: Any) -> int:
        if type(value) is not int:  # bool is an int subclass, and must not pass
            raise self.make_error("invalid")
        return value


class UtcDateTime(fields.DateTime):
    """RFC 3339 in UTC with a `Z` suffix, e.g. 2026-11-21T10:15:30.123456Z."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class StrictSchema(Schema):
    """Unknown fields are an error (no mass assignment)."""

    class Meta:
        unknown = RAISE


def _text(low: int, high: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(low, high), **kwargs)


# --- requests ------------------------------------------------------------------------------------


class RegisterUserSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = _text(10, 128, required=True, load_only=True)
    name = _text(1, 200, required=True)


class TokenRequestSchema(StrictSchema):
    email = _text(1, 320, required=True)
    password = _text(1, 1024, required=True, load_only=True)


class RefreshRequestSchema(StrictSchema):
    refresh_token = _text(1, 512, required=True)


class OpenAccountSchema(StrictSchema):
    name = _text(1, 100, required=True)
    currency = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Z]{3}$"), metadata={"example": "EUR"}
    )


class MoneyCommandSchema(StrictSchema):
    amount = JsonInteger(
        required=True,
        validate=validate.Range(1, MAX_AMOUNT),
        metadata={"description": "Minor units of the account's currency (cents, yen, …)."},
    )
    reference = fields.String(validate=validate.Length(max=200), allow_none=True)


class EmptySchema(StrictSchema):
    """A body with no fields (optional)."""


class PageQuerySchema(StrictSchema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT), strict=False
    )
    cursor = _text(1, 2000)


class AccountQuerySchema(StrictSchema):
    as_of = fields.AwareDateTime(
        format="iso",
        default_timezone=UTC,
        metadata={"description": "Show the account as it stood at this instant (RFC 3339)."},
    )


# --- responses -----------------------------------------------------------------------------------


class UserSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer"]))
    expires_in = fields.Integer(required=True)


class AccountSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    currency = fields.String(required=True)
    balance = fields.Integer(required=True)
    available_balance = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    version = fields.Integer(required=True)
    opened_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


TRANSACTION_KINDS = ["deposit", "withdrawal", "transfer_in", "transfer_out"]


class TransactionSchema(Schema):
    id = fields.String(required=True)
    account_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(TRANSACTION_KINDS))
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    balance_after = fields.Integer(required=True)
    reference = fields.String(required=True, allow_none=True)
    transfer_id = fields.String(required=True, allow_none=True)
    occurred_at = UtcDateTime(required=True)


class EventSchema(Schema):
    version = fields.Integer(required=True)
    type = fields.String(required=True)
    schema_version = fields.Integer(required=True)
    data = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    occurred_at = UtcDateTime(required=True)
    correlation_id = fields.String(required=True, allow_none=True)
    #: The stream's hash chain at this event, over the event as stored (docs/audit.md).
    hash = fields.String(required=True, metadata={"pattern": "^[0-9a-f]{64}$"})


def _page_of(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(required=True, allow_none=True),
        },
        name=name,
    )


AccountPageSchema = _page_of(AccountSchema, "AccountPage")
TransactionPageSchema = _page_of(TransactionSchema, "TransactionPage")
EventPageSchema = _page_of(EventSchema, "EventPage")


class ProblemSchema(Schema):
    """RFC 9457 Problem Details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    """marshmallow's messages as `{field: [message, ...]}`."""
    messages = error.messages if isinstance(error.messages, dict) else {"_body": error.messages}
    return {str(name): _flatten(value) for name, value in messages.items()}


def _flatten(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [message for nested in value.values() for message in _flatten(nested)]
    if isinstance(value, list):
        return [message for item in value for message in _flatten(item)]
    return [str(value)]


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Validate `data`; 422 validation-error naming each bad field."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as error:
        raise ProblemError(
            "validation-error", "The request has invalid fields.", errors=field_errors(error)
        ) from None
    return loaded


def load_query(schema: Schema) -> dict[str, Any]:
    """The query string, validated (unknown parameters are refused too)."""
    return load(schema, request.args.to_dict(flat=True))
