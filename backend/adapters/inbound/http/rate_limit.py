"""The general request limit (HEXBANK_RATE_LIMIT) per user, or per client address."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, request

from backend.adapters.inbound.http.problems import ProblemError
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.tokens import InvalidToken, TokenIssuer
from backend.application.rate_limits import RateLimited, RequestThrottle


def install_rate_limit(
    blueprint: Blueprint,
    throttle: Callable[[], RequestThrottle | None],
    issuer: Callable[[], TokenIssuer],
    clock: Callable[[], Clock],
) -> None:
    """Count every request against its caller's budget; 429 with Retry-After beyond it."""
    blueprint.before_request(rate_limit_check(throttle, issuer, clock))


def rate_limit_check(
    throttle: Callable[[], RequestThrottle | None],
    issuer: Callable[[], TokenIssuer],
    clock: Callable[[], Clock],
) -> Callable[[], None]:
    """Count the current request against its caller's budget; raise 429 beyond it."""

    def limit() -> None:
        current = throttle()
        if current is None:
            return
        try:
            current.check(_caller(issuer(), clock()))
        except RateLimited as error:
            raise ProblemError("rate-limited", str(error), retry_after=error.retry_after) from None

    return limit


def client_address() -> str:
    return request.remote_addr or "unknown"


def _caller(issuer: TokenIssuer, clock: Clock) -> str:
    # A genuine token names its user; anything else is counted against the address, so that
    # forged tokens cannot mint fresh budgets.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            return "user:" + issuer.verify(token.strip(), clock.now()).user_id
        except InvalidToken:
            pass
    return "addr:" + client_address()
