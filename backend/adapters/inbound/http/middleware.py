"""Cross-cutting request handling: request ids, security headers, body limits, access log."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

from backend.adapters.inbound.http.input_policy import check_request
from backend.adapters.inbound.http.json_body import body_too_large
from backend.logging_setup import get_logger

log = get_logger("hexbank.http")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def install_middleware(app: Flask, max_body_bytes: int) -> None:
    """Register the hooks; call before any other before_request so the request id comes first."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.before_request(_start_request)
    app.before_request(_refuse_oversized_body)
    app.before_request(check_request)  # the input policy, before any view reads the request
    app.after_request(_finish_response)
    app.teardown_request(_forget_request)


def request_id_from(header: str | None) -> str:
    """The client's request id when it is short and safe to log, a fresh one otherwise."""
    if header and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request being served (for event metadata and logs)."""
    return str(g.request_id)


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _refuse_oversized_body() -> None:
    # Flask only enforces MAX_CONTENT_LENGTH when a view reads the body; refuse early for all.
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise body_too_large(limit)


def _finish_response(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
    response.headers.update(_SECURITY_HEADERS)
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    _log_request(response)
    return response


def _log_request(response: Response) -> None:
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    log.info(
        "request",
        method=request.method,
        path=request.path,
        status=response.status_code,
        duration_ms=duration_ms,
        request_id=g.get("request_id"),
    )


def _forget_request(_error: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()
