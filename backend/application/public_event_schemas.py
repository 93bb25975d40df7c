"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the public events, version 1.

These are the contract integrators validate against: the feed's items, the webhook payloads,
and the subjects their `data` holds. `public_events` produces them; tests hold the two together
(and the subjects to what `GET` returns).
"""

from __future__ import annotations

from typing import Any, Final

from backend.application.public_events import ACCOUNT, BATCH, EVENT_TYPES, TRANSFER

JsonSchema = dict[str, Any]

_TIME: Final[JsonSchema] = {"type": "string", "format": "date-time"}
_TEXT: Final[JsonSchema] = {"type": "string"}
_INT: Final[JsonSchema] = {"type": "integer"}


def _nullable(schema: JsonSchema) -> JsonSchema:
    return {**schema, "type": [schema["type"], "null"]}


def _object(properties: dict[str, JsonSchema], description: str) -> JsonSchema:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": sorted(properties),
    }


ACCOUNT_DATA: Final = _object(
    {
        "id": _TEXT, "name": _TEXT, "currency": _TEXT, "balance": _INT,
        "available_balance": _INT, "status": {"type": "string", "enum": ["open", "closed"]},
        "version": _INT, "opened_at": _TIME, "updated_at": _TIME,
    },
    "The Account as `GET /api/v1/accounts/{id}` returned it right after the event.",
)  # fmt: skip
TRANSFER_DATA: Final = _object(
    {
        "id": _TEXT, "source_account_id": _TEXT, "target_account_id": _TEXT, "amount": _INT,
        "currency": _TEXT, "reference": _nullable(_TEXT),
        "status": {"type": "string", "enum": ["pending", "authorized", "completed", "failed"]},
        "failure_reason": _nullable(_TEXT), "created_at": _TIME, "updated_at": _TIME,
        "completed_at": _nullable(_TIME),
    },
    "The Transfer as `GET /api/v1/transfers/{id}` returned it right after the event.",
)  # fmt: skip
BATCH_DATA: Final = _object(
    {
        "id": _TEXT, "mode": {"type": "string", "enum": ["atomic", "independent"]},
        "status": {"type": "string", "enum": ["pending", "completed", "failed", "mixed"]},
        "size": _INT, "counts": {"type": "object", "additionalProperties": _INT},
        "transfer_ids": {"type": "array", "items": _TEXT}, "created_at": _TIME,
        "updated_at": _TIME,
    },
    "The Batch as `GET /api/v1/transfer-batches/{id}` returned it right after the event "
    "(no event of this subject is published yet).",
)  # fmt: skip
SUBJECT_DATA: Final = {ACCOUNT: ACCOUNT_DATA, TRANSFER: TRANSFER_DATA, BATCH: BATCH_DATA}


def event_schema(subject_type: str, data: JsonSchema) -> JsonSchema:
    """A feed item of one kind of subject: `{id, type, subject_type, subject_id, occurred_at,
    data}`."""
    return _object(
        {
            "id": {**_TEXT, "description": "Stable: the same on every page, retry and webhook."},
            "type": {"type": "string", "enum": list(EVENT_TYPES[subject_type])},
            "subject_type": {"type": "string", "const": subject_type},
            "subject_id": _TEXT,
            "occurred_at": _TIME,
            "data": data,
        },
        f"A public event of a {subject_type} (version 1 of the public events).",
    )


def payload_schema(subject_type: str, data: JsonSchema) -> JsonSchema:
    """A webhook's body for one kind of subject: `{type, timestamp, data}`."""
    return _object(
        {
            "type": {"type": "string", "enum": list(EVENT_TYPES[subject_type])},
            "timestamp": {**_TIME, "description": "When the event occurred."},
            "data": data,
        },
        f"The body of a webhook request for an event of a {subject_type}; the event's `id` is "
        "the `webhook-id` header.",
    )


def event_schemas() -> dict[str, JsonSchema]:
    """Every schema of the contract, by subject type: the event and the webhook payload."""
    return {
        subject: {"event": event_schema(subject, data), "payload": payload_schema(subject, data)}
        for subject, data in SUBJECT_DATA.items()
    }
