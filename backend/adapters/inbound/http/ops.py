"""Operational endpoints: liveness, readiness and the human-readable problem type pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Blueprint, Response, jsonify
from markupsafe import escape

from backend.adapters.inbound.http.problem_types import problem_type
from backend.adapters.inbound.http.problems import ProblemError
from backend.logging_setup import get_logger

log = get_logger(__name__)

# A readiness check raises when its dependency is not usable.
ReadinessCheck = Callable[[], object]
READY_RETRY_AFTER_SECONDS = 5


def ops_blueprint(readiness_checks: Mapping[str, ReadinessCheck]) -> Blueprint:
    """/healthz, /readyz (running `readiness_checks` by name) and /problems/<slug>."""
    blueprint = Blueprint("ops", __name__)

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz() -> Response:
        results = {name: _run_check(name, check) for name, check in readiness_checks.items()}
        failing = [name for name, result in results.items() if result != "ok"]
        if failing:
            raise ProblemError(
                "service-unavailable",
                f"Not ready: {', '.join(failing)} unavailable.",
                retry_after=READY_RETRY_AFTER_SECONDS,
            )
        return jsonify(status="ready", checks=results)

    blueprint.add_url_rule("/problems/<slug>", view_func=problem_page)
    return blueprint


def _run_check(name: str, check: ReadinessCheck) -> str:
    try:
        check()
    except Exception as error:  # any failure means "not ready", whatever the driver raised
        log.warning("readiness check failed", check=name, error=repr(error))
        return "failed"
    return "ok"


def problem_page(slug: str) -> Response:
    """A short HTML page explaining one problem type."""
    kind = problem_type(slug)
    if kind is None:
        raise ProblemError("not-found", f"There is no problem type {slug!r}.")
    html = _PAGE.format(
        title=escape(kind.title), status=kind.status, description=escape(kind.description)
    )
    return Response(html, mimetype="text/html")


_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} ({status}) — hexbank</title></head>
<body>
<h1>{title}</h1>
<p>HTTP status <strong>{status}</strong></p>
<p>{description}</p>
<p>Responses of this type are <code>application/problem+json</code> documents; see the API
documentation for their fields.</p>
</body>
</html>
"""
