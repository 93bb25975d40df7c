"""CORS: cross-origin requests only from the configured origins (HEXBANK_CORS_ORIGINS)."""

from __future__ import annotations

from collections.abc import Collection

from flask import Flask, Response, request

_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-ID"
_EXPOSE_HEADERS = "ETag, Link, Location, Retry-After, X-Request-ID, Idempotent-Replayed"
_PREFLIGHT_MAX_AGE_SECONDS = "600"


def install_cors(app: Flask, origins: Collection[str]) -> None:
    """Answer preflights and label responses for `origins`; other origins get no CORS headers."""
    allowed = frozenset(origins)

    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if request.headers.get("Origin") not in allowed:
            return None  # the browser refuses the request for want of CORS headers
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = _ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = _ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE_SECONDS
        return response

    def label(response: Response) -> Response:
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
        return response

    if allowed:
        app.before_request(preflight)
        app.after_request(label)
