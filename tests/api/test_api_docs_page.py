"""/api/docs: Swagger UI from the built web app (frontend/dist/api-docs), under the app's CSP,
its assets gzipped and immutable, nothing from another origin."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.adapters.inbound.http.docs import DOCS_DIR, docs_blueprint
from backend.adapters.inbound.http.middleware import install_middleware
from backend.adapters.inbound.http.problems import register_problem_handlers
from backend.adapters.inbound.http.spa import DEFAULT_DIST_DIR, IMMUTABLE, REVALIDATE

BUILT_PAGE = DEFAULT_DIST_DIR / DOCS_DIR / "index.html"


@pytest.fixture
def page(client: FlaskClient) -> str:
    """The built page, as the app serves it (`make web` builds it; a missing build fails)."""
    assert BUILT_PAGE.is_file(), f"{BUILT_PAGE} is missing: run `make web` first"
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == REVALIDATE
    return response.get_data(as_text=True)


def test_the_page_runs_only_scripts_of_the_app_under_its_csp(
    client: FlaskClient, page: str
) -> None:
    csp = client.get("/api/docs").headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe" not in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert len(scripts) == 2 and all(not body.strip() for _, body in scripts)
    assert all(re.search(r'src="/api/docs/assets/[\w.-]+\.js"', attrs) for attrs, _ in scripts)
    assert "<style" not in page and "style=" not in page
    assert 'data-spec-url="/api/v1/openapi.json"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no CDN


def test_swagger_ui_assets_are_gzipped_and_immutable(client: FlaskClient, page: str) -> None:
    assets = re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', page)
    assert {Path(a).suffix for a in assets} == {".js", ".css"}
    for asset in assets:
        plain = client.get(asset)
        assert plain.status_code == 200 and plain.headers["Cache-Control"] == IMMUTABLE
        if len(plain.data) < 1024:
            continue
        packed = client.get(asset, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.data) == plain.data
        assert len(packed.data) < len(plain.data) / 2
    bundle = next(a for a in assets if "swagger-ui-bundle" in a)
    assert b"SwaggerUIBundle" in client.get(bundle).data
    assert b"Apache License" in client.get("/api/docs/SWAGGER-UI-LICENSE.txt").data


def _docs_app(dist: Path) -> FlaskClient:
    app = Flask(__name__, static_folder=None)
    install_middleware(app, 64 * 1024)
    register_problem_handlers(app)
    app.register_blueprint(docs_blueprint(dist))
    return app.test_client()


def test_a_missing_asset_is_404_and_an_unbuilt_page_503(tmp_path: Path) -> None:
    client = _docs_app(tmp_path / "dist")
    unbuilt = client.get("/api/docs")
    assert unbuilt.status_code == 503 and "make run" in unbuilt.get_json()["detail"]
    assert unbuilt.headers["Retry-After"]
    root = tmp_path / "dist" / DOCS_DIR
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>docs</title>")
    (tmp_path / "dist" / "secret.txt").write_text("not for the web")
    assert client.get("/api/docs").status_code == 200
    for path in ("/api/docs/assets/nope.js", "/api/docs/assets/../../secret.txt",
                 "/api/docs/assets/%2e%2e/%2e%2e/secret.txt", "/api/docs/index.html"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json", path
