"""The catalogue of problem types: every slug of API.md, its status, title and explanation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True, slots=True)
class ProblemType:
    """A documented problem type: what `/problems/<slug>` explains."""

    slug: str
    status: int
    title: str
    description: str


# fmt: off
_CATALOGUE = (
    ("bad-request", 400, "Bad request",
     "The body is not valid JSON, or not the shape the endpoint expects."),
    ("unauthorized", 401, "Unauthorized",
     "The token is missing, malformed, expired, forged or revoked, or the credentials are wrong."),
    ("not-found", 404, "Not found",
     "There is no such resource, or none that you may see."),
    ("method-not-allowed", 405, "Method not allowed",
     "The path exists but does not accept this method; the Allow header lists those it does."),
    ("validation-error", 422, "Validation error",
     "One or more fields are invalid; `errors` lists the messages for each field."),
    ("insufficient-funds", 422, "Insufficient funds",
     "The withdrawal is larger than the account's available balance."),
    ("same-account", 422, "Same account",
     "A transfer's source and target must be different accounts."),
    ("idempotency-key-reused", 422, "Idempotency key reused",
     "This Idempotency-Key was already used with a different request."),
    ("email-taken", 409, "Email taken",
     "A user is already registered with this email."),
    ("account-closed", 409, "Account closed",
     "The account is closed and accepts no more commands."),
    ("account-not-empty", 409, "Account not empty",
     "Only an account with a zero balance and no funds on hold can be closed."),
    ("concurrent-modification", 409, "Concurrent modification",
     "The resource changed concurrently and the server could not resolve it by retrying."),
    ("idempotency-key-in-use", 409, "Idempotency key in use",
     "A request with this Idempotency-Key is still being processed; retry later."),
    ("precondition-failed", 412, "Precondition failed",
     "If-Match does not match the resource's current version."),
    ("payload-too-large", 413, "Payload too large",
     "The request body is larger than the configured limit."),
    ("unsupported-media-type", 415, "Unsupported media type",
     "A request body must be sent with Content-Type: application/json."),
    ("rate-limited", 429, "Too many requests",
     "Too many requests; retry after the number of seconds given in Retry-After."),
    ("internal-server-error", 500, "Internal server error",
     "The server failed unexpectedly; quote the X-Request-ID response header when reporting it."),
    ("service-unavailable", 503, "Service unavailable",
     "A dependency is down; retry after Retry-After. Nothing that was accepted is lost."),
)
# fmt: on

PROBLEM_TYPES: dict[str, ProblemType] = {row[0]: ProblemType(*row) for row in _CATALOGUE}

# The slug used for a bare status code (from werkzeug or the framework) when several share it.
_DEFAULT_SLUG = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-server-error",
    503: "service-unavailable",
}


def problem_type(slug: str) -> ProblemType | None:
    """The documented type for `slug`, or a generic one named after an HTTP status phrase."""
    if slug in PROBLEM_TYPES:
        return PROBLEM_TYPES[slug]
    for status in HTTPStatus:
        if status >= 400 and _slugify(status.phrase) == slug:
            return _generic_type(status)
    return None


def problem_type_for_status(status: int) -> ProblemType:
    """The type a bare status code maps to."""
    slug = _DEFAULT_SLUG.get(status)
    return PROBLEM_TYPES[slug] if slug else _generic_type(HTTPStatus(status))


def _generic_type(status: HTTPStatus) -> ProblemType:
    return ProblemType(_slugify(status.phrase), status.value, status.phrase, status.description)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
