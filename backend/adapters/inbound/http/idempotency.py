"""HTTP glue of Idempotency-Key: claim, run, replay with `Idempotent-Replayed: true`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, json, request

from backend.adapters.inbound.http.problems import ProblemError
from backend.application.idempotency import Claim, IdempotencyService, fingerprint
from backend.application.ports.idempotency import StoredResponse
from backend.application.ports.unit_of_work import UnitOfWork

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

#: Called inside the command's transaction with the response to remember.
Recorder = Callable[[UnitOfWork, StoredResponse], None]
#: Runs the command (recording its response through the Recorder before commit).
Perform = Callable[[Recorder], StoredResponse]


def idempotent(service: IdempotencyService, user_id: str, body: Any, perform: Perform) -> Response:
    """Run `perform` once per Idempotency-Key; replay the first response to its twins."""
    key = idempotency_key()
    if key is None:
        return to_response(perform(_forget))
    outcome = service.begin(user_id, key, fingerprint(request.method, request.path, body))
    if isinstance(outcome, StoredResponse):
        response = to_response(outcome)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    return _run_claimed(service, outcome, perform)


def _run_claimed(service: IdempotencyService, claim: Claim, perform: Perform) -> Response:
    try:
        stored = perform(lambda uow, response: service.complete(uow, claim, response))
    except BaseException:
        # Nothing committed: free the key so that the client may retry with it.
        service.release(claim)
        raise
    return to_response(stored)


def to_response(stored: StoredResponse) -> Response:
    response = Response(json.dumps(stored.body), status=stored.status, mimetype="application/json")
    response.headers.update(stored.headers)
    return response


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


def _forget(uow: UnitOfWork, response: StoredResponse) -> None:
    """No key: nothing to remember."""
