"""Serves the built web app (frontend/dist) at / with history-API fallback to index.html."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from backend.adapters.inbound.http.problems import ProblemError

DEFAULT_DIST_DIR = Path(__file__).resolve().parents[4] / "frontend" / "dist"
# Vite puts content-hashed files here: a new content gets a new name, so they never go stale.
HASHED_ASSETS = "assets"
ONE_YEAR_SECONDS = 31_536_000
IMMUTABLE = f"public, max-age={ONE_YEAR_SECONDS}, immutable"
# index.html and unhashed files (favicon) must be revalidated so a new build is picked up at once.
REVALIDATE = "no-cache"
NOT_BUILT_RETRY_AFTER_SECONDS = 30
# First path segments of the service, never of the app: unknown paths there stay 404/405.
RESERVED_PREFIXES = ("api", "healthz", "readyz", "metrics", "problems")


class SpaPathConverter(PathConverter):
    """A path that does not start with a reserved segment, so API 404s and 405s are left alone."""

    regex = r"(?!(?:" + "|".join(RESERVED_PREFIXES) + r")(?:/|$))[^/].*?"


def spa_blueprint(dist_dir: Path | None = None) -> Blueprint:
    """GET / and any non-reserved path: a built file if it exists, else index.html."""
    root = (dist_dir or DEFAULT_DIST_DIR).resolve()
    blueprint = Blueprint("spa", __name__)

    @blueprint.record_once
    def _register_converter(state: BlueprintSetupState) -> None:
        # Before the rules below are added: they use it.
        state.app.url_map.converters["spa_path"] = SpaPathConverter

    @blueprint.get("/")
    def index() -> Response:
        return _index_html(root)

    @blueprint.get("/<spa_path:path>")
    def app_path(path: str) -> Response:
        return _file_or_index(root, path)

    return blueprint


def _file_or_index(root: Path, path: str) -> Response:
    candidate = (root / path).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return _static_file(root, path)
    if path.startswith(f"{HASHED_ASSETS}/"):
        # A missing script or stylesheet must not be answered with HTML (it would fail obscurely).
        raise ProblemError("not-found", f"There is no asset {path!r}.")
    return _index_html(root)


def _static_file(root: Path, path: str) -> Response:
    hashed = path.startswith(f"{HASHED_ASSETS}/")
    response = send_from_directory(root, path, max_age=ONE_YEAR_SECONDS if hashed else 0)
    response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
    return response


def _index_html(root: Path) -> Response:
    if not (root / "index.html").is_file():
        raise ProblemError(
            "service-unavailable",
            "The web app is not built: run `make run`, or `npm ci && npm run build` in frontend/.",
            retry_after=NOT_BUILT_RETRY_AFTER_SECONDS,
        )
    response = send_from_directory(root, "index.html", max_age=0)
    response.headers["Cache-Control"] = REVALIDATE
    return response
