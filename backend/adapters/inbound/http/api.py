"""The /api/v1 blueprint registry: routes, rate limit, and errors mapped to problems."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify
from redis import exceptions as redis_errors
from sqlalchemy import exc as sqlalchemy_errors

from backend.adapters.inbound.http.account_views import account_blueprint
from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.auth_views import auth_blueprint
from backend.adapters.inbound.http.daily_balance_views import daily_balance_blueprint
from backend.adapters.inbound.http.docs import docs_blueprint
from backend.adapters.inbound.http.event_views import event_blueprint
from backend.adapters.inbound.http.idempotency import REPLAYED_HEADER
from backend.adapters.inbound.http.meta_views import meta_blueprint
from backend.adapters.inbound.http.openapi import build_spec
from backend.adapters.inbound.http.problems import ProblemError
from backend.adapters.inbound.http.rate_limit import install_rate_limit
from backend.adapters.inbound.http.transfer_views import transfer_blueprint
from backend.application import errors as app_errors
from backend.application.admission import Backlogged
from backend.application.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    is_replayed,
)
from backend.application.identity import EmailTaken, InvalidCredentials, Unauthenticated
from backend.application.pagination import InvalidCursor
from backend.application.rate_limits import RateLimited
from backend.domain import errors as domain_errors
from backend.logging_setup import get_logger

API_PREFIX = "/api/v1"
OUTAGE_RETRY_AFTER_SECONDS = 5
log = get_logger(__name__)

#: Database or Redis unreachable, timing out or locked: 503 with Retry-After (RELIABILITY R5).
DEPENDENCY_OUTAGES: tuple[type[Exception], ...] = (
    sqlalchemy_errors.OperationalError,
    sqlalchemy_errors.InterfaceError,
    sqlalchemy_errors.TimeoutError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)

#: Refusals whose problem type is the error's type alone (with Retry-After when the error
#: carries a `retry_after`).
PROBLEM_SLUGS: dict[type[Exception], str] = {
    domain_errors.InsufficientFunds: "insufficient-funds",
    domain_errors.AccountClosed: "account-closed",
    domain_errors.AccountNotEmpty: "account-not-empty",
    domain_errors.SameAccount: "same-account",
    app_errors.ConcurrentModification: "concurrent-modification",
    app_errors.ConcurrencyError: "concurrent-modification",
    app_errors.PreconditionFailed: "precondition-failed",
    EmailTaken: "email-taken",
    IdempotencyKeyReused: "idempotency-key-reused",
    IdempotencyKeyInUse: "idempotency-key-in-use",
    RateLimited: "rate-limited",
    Backlogged: "service-unavailable",
}

#: Refusals that are a field's validation error: the field named in `errors`.
FIELD_ERRORS: dict[type[Exception], str] = {
    domain_errors.InvalidAmount: "amount",
    domain_errors.CurrencyMismatch: "currency",
    domain_errors.UnsupportedCurrency: "currency",
    domain_errors.InvalidAccountName: "name",
    InvalidCursor: "cursor",
}


def register_api(app: Flask, services: ApiServices) -> None:
    """Mount /api/v1 (with every v1 route), its OpenAPI document and /api/docs."""
    api = Blueprint("api_v1", __name__, url_prefix=API_PREFIX)
    # CORS is app-wide (cors.install_cors in app.py), so preflights of any path are answered.
    install_rate_limit(api, services.request_throttle, services.token_issuer, services.clock)
    api.after_request(_no_store)
    for error_type in (domain_errors.DomainError, app_errors.ApplicationError):
        api.register_error_handler(error_type, problem_for)
    for outage in DEPENDENCY_OUTAGES:
        api.register_error_handler(outage, _dependency_down)
    api.register_blueprint(auth_blueprint(services))
    api.register_blueprint(account_blueprint(services))
    api.register_blueprint(transfer_blueprint(services))
    api.register_blueprint(daily_balance_blueprint(services))
    api.register_blueprint(meta_blueprint(services))
    api.register_blueprint(event_blueprint(services))
    spec = build_spec(services.settings)
    api.add_url_rule("/openapi.json", "openapi", lambda: jsonify(spec))
    app.register_blueprint(api)
    app.register_blueprint(docs_blueprint())


def _dependency_down(error: Exception) -> Response:
    # Nothing was committed (the transaction failed or never began), so a retry is safe.
    log.warning("dependency unavailable", error=repr(error))
    return ProblemError(
        "service-unavailable",
        "A dependency is unavailable; retry shortly.",
        retry_after=OUTAGE_RETRY_AFTER_SECONDS,
    ).to_response()


def problem_for(error: Exception) -> Response:
    """The problem response of a domain or application error (by type, never by message);
    a key's recorded refusal answered again is marked `Idempotent-Replayed: true`."""
    response = _problem(error).to_response()
    if is_replayed(error):
        response.headers[REPLAYED_HEADER] = "true"
    return response


def _problem(error: Exception) -> ProblemError:
    for error_type in type(error).__mro__:
        if error_type in PROBLEM_SLUGS:
            retry_after = getattr(error, "retry_after", None)  # e.g. a key in use: when to retry
            return ProblemError(
                PROBLEM_SLUGS[error_type], str(error) or None, retry_after=retry_after
            )
        if error_type in FIELD_ERRORS:
            field = FIELD_ERRORS[error_type]
            return ProblemError("validation-error", str(error), errors={field: [str(error)]})
    return _identity_problem(error)


def _identity_problem(error: Exception) -> ProblemError:
    if isinstance(error, app_errors.NotFound):
        # One answer for "not yours" and "never existed": no enumeration oracle.
        return ProblemError("not-found", "The resource does not exist.")
    if isinstance(error, InvalidCredentials):
        return ProblemError("unauthorized", "Wrong email or password.")
    if isinstance(error, Unauthenticated):
        return ProblemError("unauthorized", "The token is invalid.")
    raise error


def _no_store(response: Response) -> Response:
    # Responses carry tokens and balances: never cache them in shared or browser caches.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
