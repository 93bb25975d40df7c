"""The wire format of `/api/v1/ws`: the messages a socket sends and receives.

Push payloads are dumped by the same marshmallow schemas as the HTTP resources, so that an
`account.updated` carries exactly what `GET /api/v1/accounts/{id}` returns.
"""

from __future__ import annotations

import json
from typing import Any, Final

from marshmallow import Schema

from backend.adapters.inbound.http.schemas import AccountSchema
from backend.adapters.inbound.http.transfer_views import TransferSchema
from backend.application.ports.push import ACCOUNT_UPDATED, TRANSFER_UPDATED, PushMessage

READY: Final = '{"type":"ready"}'
PONG: Final = '{"type":"pong"}'

_SCHEMAS: Final[dict[str, Schema]] = {
    ACCOUNT_UPDATED: AccountSchema(),
    TRANSFER_UPDATED: TransferSchema(),
}


def encode_push(message: PushMessage) -> str:
    """`{"type": "account.updated" | "transfer.updated", "data": <the API resource>}`."""
    data = _SCHEMAS[message.type].dump(message.resource)
    return dumps({"type": message.type, "data": data})


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def parse(text: str | bytes) -> dict[str, Any] | None:
    """A client message as a JSON object, or None when it is anything else."""
    try:
        message = json.loads(text)
    except (TypeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    return message if isinstance(message, dict) else None


def access_token_of(text: str | bytes | None) -> str | None:
    """The token of a well-formed `{"type": "auth", "access_token": "..."}`, else None."""
    message = parse(text) if text is not None else None
    if message is None or message.get("type") != "auth":
        return None
    token = message.get("access_token")
    return token if isinstance(token, str) and token else None
