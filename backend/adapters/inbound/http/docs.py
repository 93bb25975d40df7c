"""/api/docs: Swagger UI on /api/v1/openapi.json, served from the built web app (no CDN).

`npm run build` (frontend/scripts/api-docs.mjs) puts the page, Swagger UI's bundle and
stylesheet (swagger-ui-dist, locked in frontend/package-lock.json) and the script that starts it
into frontend/dist/api-docs/, each asset named after its content hash. They are served like the
web app's files (spa.py): gzipped for clients that accept it, assets immutable, the page
revalidated. No inline script or style, so the app's Content-Security-Policy holds unchanged.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response
from werkzeug.security import safe_join

from backend.adapters.inbound.http.problems import ProblemError
from backend.adapters.inbound.http.spa import (
    DEFAULT_DIST_DIR,
    HASHED_ASSETS,
    not_built,
    static_file,
)

DOCS_DIR = "api-docs"
PAGE = "index.html"
LICENSE = "SWAGGER-UI-LICENSE.txt"


def docs_blueprint(dist_dir: Path | None = None) -> Blueprint:
    """GET /api/docs, its hashed assets and Swagger UI's licence."""
    root = ((dist_dir or DEFAULT_DIST_DIR) / DOCS_DIR).resolve()
    blueprint = Blueprint("api_docs", __name__)

    @blueprint.get("/api/docs")
    def docs() -> Response:
        if not (root / PAGE).is_file():
            raise not_built()
        return static_file(root, PAGE)

    @blueprint.get(f"/api/docs/{HASHED_ASSETS}/<path:name>")
    def asset(name: str) -> Response:
        return _file(root, f"{HASHED_ASSETS}/{name}")

    @blueprint.get(f"/api/docs/{LICENSE}")
    def license_text() -> Response:
        return _file(root, LICENSE)

    return blueprint


def _file(root: Path, path: str) -> Response:
    found = safe_join(str(root), path)
    if found is None or not Path(found).is_file():
        raise ProblemError("not-found", f"There is no API docs file {path!r}.")
    return static_file(root, path)
