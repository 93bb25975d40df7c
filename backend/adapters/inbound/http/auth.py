"""Bearer authentication for views: verify the access token, expose the caller's claims."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import structlog
from flask import g, request

from backend.adapters.inbound.http.problems import ProblemError
from backend.application.identity import IdentityService, Unauthenticated
from backend.application.ports.tokens import AccessClaims

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str:
    """The token of `Authorization: Bearer <token>`; 401 when absent or malformed."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError("unauthorized", "Send an access token: Authorization: Bearer <token>.")
    return token.strip()


def requires_auth(identity: Callable[[], IdentityService]) -> Callable[[F], F]:
    """Decorate a view so that it runs only for a valid, unrevoked access token."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                g.claims = identity().verify_access(bearer_token())
            except Unauthenticated:
                raise ProblemError("unauthorized", "The access token is invalid.") from None
            # Every log line of the request from here on names the caller (never the token).
            structlog.contextvars.bind_contextvars(user_id=g.claims.user_id)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def current_claims() -> AccessClaims:
    """The verified claims of the request's access token (inside a @requires_auth view)."""
    claims: AccessClaims = g.claims
    return claims


def current_user_id() -> str:
    return current_claims().user_id
