"""Problem Details (RFC 9457): the one shape of every 4xx/5xx response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from backend.adapters.inbound.http.problem_types import (
    PROBLEM_TYPES,
    ProblemType,
    problem_type_for_status,
)
from backend.logging_setup import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raise from any view to answer with a problem+json response."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        known = PROBLEM_TYPES.get(slug) or _ad_hoc_type(slug, status, title)
        self.slug = slug
        self.status = status or known.status
        self.title = title or known.title
        self.detail = detail
        self.errors = dict(errors) if errors is not None else None
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)
        super().__init__(f"{self.slug}: {detail or self.title}")

    def to_response(self) -> Response:
        """The problem+json response for this error."""
        return problem_response(
            self.slug,
            self.status,
            self.title,
            self.detail,
            errors=self.errors,
            headers=self.headers,
        )


def _ad_hoc_type(slug: str, status: int | None, title: str | None) -> ProblemType:
    if status is None or title is None:
        raise ValueError(f"unknown problem slug {slug!r}: give its status and title")
    return ProblemType(slug, status, title, "")


def problem_response(
    slug: str,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An `application/problem+json` response; `instance` is the request path."""
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if errors is not None:
        body["errors"] = dict(errors)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", "Bearer")
    return response


def register_problem_handlers(app: Flask) -> None:
    """Turn ProblemError, every werkzeug HTTPException and any other exception into problems."""
    app.register_error_handler(ProblemError, _on_problem)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(Exception, _on_unhandled)


def _on_problem(error: ProblemError) -> Response:
    return error.to_response()


def _on_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    kind = problem_type_for_status(status)
    # Keep what werkzeug puts in headers (Allow on 405, WWW-Authenticate on 401), not its HTML type.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem_response(kind.slug, status, kind.title, error.description, headers=headers)


def _on_unhandled(error: Exception) -> Response:
    # The traceback goes to the log only; the client gets the request id to quote.
    log.exception("unhandled exception", method=request.method, path=request.path)
    kind = PROBLEM_TYPES["internal-server-error"]
    return problem_response(kind.slug, kind.status, kind.title, "An unexpected error occurred.")
