"""Serves the built web app (frontend/dist) at / with history-API fallback to index.html."""

from __future__ import annotations

import gzip
import mimetypes
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory
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
# The built app's text files are compressed for clients that accept gzip (the JavaScript
# bundle shrinks about 3x); small ones are not worth the header.
COMPRESSIBLE = frozenset({".js", ".css", ".html", ".svg", ".json", ".map", ".txt"})
MIN_COMPRESSED_BYTES = 1024
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
        return static_file(root, path)
    if path.startswith(f"{HASHED_ASSETS}/"):
        # A missing script or stylesheet must not be answered with HTML (it would fail obscurely).
        raise ProblemError("not-found", f"There is no asset {path!r}.")
    return _index_html(root)


def static_file(root: Path, path: str) -> Response:
    """A built file under `root` (gzipped when worth it); immutable when under assets/."""
    hashed = path.startswith(f"{HASHED_ASSETS}/")
    file = root / path
    if _worth_compressing(file):
        response = _gzipped_file(file) if _accepts_gzip() else send_from_directory(root, path)
        # Caches keep one copy per encoding: never the gzipped one for a client without gzip.
        response.vary.add("Accept-Encoding")
    else:
        response = send_from_directory(root, path, max_age=ONE_YEAR_SECONDS if hashed else 0)
    response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
    return response


def _worth_compressing(file: Path) -> bool:
    return file.suffix in COMPRESSIBLE and file.stat().st_size >= MIN_COMPRESSED_BYTES


def _accepts_gzip() -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _gzipped_file(file: Path) -> Response:
    stat = file.stat()
    body = _gzip(str(file), stat.st_mtime_ns, stat.st_size)
    response = Response(body, mimetype=mimetypes.guess_type(file.name)[0])
    response.headers["Content-Encoding"] = "gzip"
    response.set_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}-gzip")
    response.make_conditional(request)  # 304 for a matching If-None-Match; Range too
    return response


@lru_cache(maxsize=64)
def _gzip(path: str, _mtime_ns: int, _size: int) -> bytes:
    """A file's gzip, once per version of it (the cache key has its mtime and size)."""
    # mtime=0: the same bytes every time, so the ETag and any cached copy stay valid.
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


def not_built() -> ProblemError:
    """503 for a page of frontend/dist that is not there (the build, not the request, is wrong)."""
    return ProblemError(
        "service-unavailable",
        "The web app is not built: run `make run`, or `npm ci && npm run build` in frontend/.",
        retry_after=NOT_BUILT_RETRY_AFTER_SECONDS,
    )


def _index_html(root: Path) -> Response:
    if not (root / "index.html").is_file():
        raise not_built()
    response = send_from_directory(root, "index.html", max_age=0)
    response.headers["Cache-Control"] = REVALIDATE
    return response
