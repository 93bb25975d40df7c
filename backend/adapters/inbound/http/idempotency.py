"""HTTP glue of Idempotency-Key: read and check the header, mark a replayed response."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from backend.adapters.inbound.http.problems import ProblemError
from backend.application.command_outcomes import Outcome
from backend.application.idempotency import IdempotencyKey, fingerprint

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency_key() -> str | None:
    """The request's Idempotency-Key (None without one); 422 unless 1-255 printable chars."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    printable = all(" " <= char <= "~" for char in key)
    if not (1 <= len(key) <= MAX_KEY_LENGTH and printable):
        raise ProblemError(
            "validation-error",
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            errors={HEADER: ["Must be 1 to 255 printable ASCII characters."]},
        )
    return key


def request_key(key: str | None, user_id: str, body: Any) -> IdempotencyKey | None:
    """The key with what this request asks (method, path, body): same key, same request."""
    if key is None:
        return None
    return IdempotencyKey(user_id, key, fingerprint(request.method, request.path, body))


def marked(response: Response, outcome: Outcome[Any]) -> Response:
    """`Idempotent-Replayed: true` on the response of a replayed outcome."""
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
