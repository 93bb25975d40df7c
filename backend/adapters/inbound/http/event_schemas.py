"""marshmallow schemas and OpenAPI operations of the event feed and the webhooks, and the
document's top-level `webhooks` section (the payloads hexbank POSTs)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from backend.adapters.inbound.http.openapi_paths import IDEMPOTENCY_KEY, Operation
from backend.adapters.inbound.http.schemas import (
    CURSOR_PATTERN,
    PageQuerySchema,
    StrictSchema,
    UtcDateTime,
    _page_of,
)
from backend.application.pagination import DEFAULT_LIMIT, MAX_LIMIT
from backend.application.ports.event_feed import DELIVERY_STATUSES
from backend.application.public_event_schemas import event_schemas
from backend.application.public_events import ALL_EVENT_TYPES, NOT_EMITTED_YET
from backend.application.webhooks import MAX_URL_LENGTH

_TYPES = validate.OneOf(ALL_EVENT_TYPES)
#: An absolute http(s) URL without credentials; what passes is then checked by the URL policy.
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:" + _PORT + r")?(/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?$"
_ID = {"type": "string", "minLength": 1, "maxLength": 128}


class FeedQuerySchema(StrictSchema):
    after = fields.String(
        validate=[validate.Length(1, 2000), validate.Regexp(CURSOR_PATTERN)],
        metadata={
            "description": "The `next_cursor` of the page before; without it, from the "
            "beginning. Any other value is 422."
        },
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT), strict=False
    )


class FeedEventSchema(Schema):
    id = fields.String(required=True, attribute="event_id")
    type = fields.String(required=True, validate=_TYPES)
    subject_type = fields.String(required=True)
    subject_id = fields.String(required=True)
    occurred_at = UtcDateTime(required=True)
    data = fields.Dict(required=True)


class FeedPageSchema(Schema):
    items = fields.List(fields.Nested(FeedEventSchema), required=True)
    next_cursor = fields.String(
        required=True,
        metadata={"description": "Never null: where to continue (the same on an empty page)."},
    )


class CreateWebhookSchema(StrictSchema):
    url = fields.String(
        required=True,
        validate=[validate.Length(1, MAX_URL_LENGTH), validate.Regexp(URL_PATTERN)],
        metadata={
            "description": "Where to POST the events: http(s), a host name or IPv4 address, "
            "an optional port, path and query. With HEXBANK_ENV=production: https on a "
            "public address only (unless the host is allowed by configuration)."
        },
    )
    event_types = fields.List(
        fields.String(validate=_TYPES),
        load_default=list,
        validate=validate.Length(max=len(ALL_EVENT_TYPES)),
        metadata={"description": "The public types to send; empty or absent: all of them."},
    )


class WebhookSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    created_at = UtcDateTime(required=True)


class CreatedWebhookSchema(WebhookSchema):
    secret = fields.String(
        required=True,
        metadata={"description": "`whsec_…`: the signing key, shown only in this response."},
    )


class DeliverySchema(Schema):
    id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    next_attempt_at = UtcDateTime(
        required=True, allow_none=True, metadata={"description": "Null unless pending."}
    )
    updated_at = UtcDateTime(required=True)


class DeliveryQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


WebhookPageSchema = _page_of(WebhookSchema, "WebhookPage")
DeliveryPageSchema = _page_of(DeliverySchema, "DeliveryPage")

SCHEMAS: dict[str, type[Schema]] = {
    "FeedPage": FeedPageSchema,
    "CreateWebhook": CreateWebhookSchema,
    "Webhook": WebhookSchema,
    "CreatedWebhook": CreatedWebhookSchema,
    "WebhookPage": WebhookPageSchema,
    "Delivery": DeliverySchema,
    "DeliveryPage": DeliveryPageSchema,
}

_WEBHOOK_ID = {"in": "path", "name": "webhook_id", "required": True, "schema": _ID}
_DELIVERY_ID = {"in": "path", "name": "delivery_id", "required": True, "schema": _ID}
_TAG = "events"

# fmt: off
PATHS: dict[str, dict[str, Operation]] = {
    "/api/v1/events": {"get": Operation(
        "listFeedEvents", "The caller's public events in commit order (poll with next_cursor)",
        _TAG, 200, "FeedPage", params=[{"in": "query", "schema": FeedQuerySchema}],
        problems=(422,))},
    "/api/v1/webhooks": {
        "post": Operation("createWebhook", "Register a webhook (its secret is shown once)",
                          "webhooks", 201, "CreatedWebhook", "CreateWebhook",
                          params=[IDEMPOTENCY_KEY], headers=["Location", "Idempotent-Replayed"],
                          problems=(409, 422)),
        "get": Operation("listWebhooks", "The caller's webhooks, oldest first", "webhooks", 200,
                         "WebhookPage", params=[{"in": "query", "schema": PageQuerySchema}],
                         headers=["Link"], problems=(422,)),
    },
    "/api/v1/webhooks/{webhook_id}": {
        "get": Operation("getWebhook", "One webhook", "webhooks", 200, "Webhook",
                         params=[_WEBHOOK_ID], problems=(404,)),
        "delete": Operation("deleteWebhook", "Delete a webhook (pending deliveries are dropped)",
                            "webhooks", 204, params=[_WEBHOOK_ID], problems=(404,)),
    },
    "/api/v1/webhooks/{webhook_id}/deliveries": {"get": Operation(
        "listDeliveries", "The webhook's deliveries, newest first", "webhooks", 200,
        "DeliveryPage", params=[_WEBHOOK_ID, {"in": "query", "schema": DeliveryQuerySchema}],
        headers=["Link"], problems=(404, 422))},
    "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry": {"post": Operation(
        "retryDelivery", "Send a delivery again now", "webhooks", 202, "Delivery",
        params=[_WEBHOOK_ID, _DELIVERY_ID], problems=(404,))},
}
# fmt: on

_SIGNATURE_HEADERS = {
    "webhook-id": "The event's `id`: the same on every retry (deduplicate on it).",
    "webhook-timestamp": "Unix seconds when this attempt was signed.",
    "webhook-signature": '`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed with '
    "the secret (Standard Webhooks; verify with a `standardwebhooks` library).",
}


def add_event_docs(document: dict[str, Any]) -> None:
    """Public event schemas as components, the feed's `data` as one of them, and the top-level
    `webhooks` section (OpenAPI 3.1): one entry per subject type."""
    components = document["components"]["schemas"]
    events = []
    for subject, schemas in event_schemas().items():
        name = subject.capitalize()
        components[f"{name}Event"] = schemas["event"]
        components[f"{name}WebhookPayload"] = schemas["payload"]
        events.append({"$ref": f"#/components/schemas/{name}Event"})
    components["FeedPage"]["properties"]["items"]["items"] = {"oneOf": events}
    note = ", ".join(sorted(NOT_EMITTED_YET))
    document["webhooks"] = {
        f"{subject}Event": {"post": _webhook_operation(subject, note)}
        for subject in event_schemas()
    }


def _webhook_operation(subject: str, note: str) -> dict[str, Any]:
    name = subject.capitalize()
    headers = [
        {"in": "header", "name": header, "required": True, "description": text,
         "schema": {"type": "string"}}
        for header, text in _SIGNATURE_HEADERS.items()
    ]  # fmt: skip
    return {
        "operationId": f"{subject}WebhookEvent",
        "summary": f"An event of a {subject}, POSTed to each webhook that wants its type",
        "description": "Any 2xx within 10 s is success; anything else is retried with "
        "exponential backoff (first retry within 5 s, 8 attempts over more than a day). At "
        f"least once, in order per subject. Not published yet: {note}.",
        "parameters": headers,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{name}WebhookPayload"}
                }
            },
        },
        "responses": {"2XX": {"description": "Received: nothing more is sent for this event."}},
    }
