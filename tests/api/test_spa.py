"""The web app blueprint: files, history-API fallback, reserved paths, caching, not-built 503."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from flask import Blueprint, Flask, jsonify
from flask.testing import FlaskClient

from backend.adapters.inbound.http.middleware import install_middleware
from backend.adapters.inbound.http.ops import ops_blueprint
from backend.adapters.inbound.http.problems import register_problem_handlers
from backend.adapters.inbound.http.spa import IMMUTABLE, REVALIDATE, spa_blueprint

INDEX = "<!doctype html><html><head><title>hexbank</title></head><body><div id=app></div></body>"


def _app(dist: Path) -> Flask:
    app = Flask(__name__, static_folder=None)
    install_middleware(app, 64 * 1024)
    register_problem_handlers(app)
    api = Blueprint("fake_api", __name__)
    api.add_url_rule("/api/v1/things", view_func=lambda: jsonify(items=[]), methods=["GET"])
    app.register_blueprint(api)
    app.register_blueprint(ops_blueprint({}))
    app.register_blueprint(spa_blueprint(dist))
    return app


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log('hexbank')")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


@pytest.fixture
def client(dist: Path) -> FlaskClient:
    return _app(dist).test_client()


def test_root_serves_index_html_with_csp_and_revalidation(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.get_data(as_text=True) == INDEX
    assert response.headers["Cache-Control"] == REVALIDATE
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path", ["/signin", "/accounts", "/accounts/abc-123", "/move-money", "/apiary"]
)
def test_unknown_app_paths_fall_back_to_index_html(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == INDEX


def test_hashed_assets_are_cached_for_a_year(client: FlaskClient) -> None:
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "console.log('hexbank')"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.mimetype in {"text/javascript", "application/javascript"}


def test_unhashed_files_are_revalidated(client: FlaskClient) -> None:
    response = client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == REVALIDATE


def test_a_missing_asset_is_404_not_html(client: FlaskClient) -> None:
    response = client.get("/assets/index-gone.js")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api", "/api/", "/readyz/extra", "/metrics", "/problems/a/b"]
)
def test_service_paths_never_fall_back(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_known_api_path_keeps_its_405(client: FlaskClient) -> None:
    response = client.post("/api/v1/things", json={})
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


def test_service_endpoints_still_answer(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/api/v1/things").get_json() == {"items": []}
    assert client.get("/problems/not-found").mimetype == "text/html"


def test_files_outside_dist_are_not_served(client: FlaskClient) -> None:
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"]:
        response = client.get(path)
        assert "not for the web" not in response.get_data(as_text=True)


def test_an_unbuilt_app_is_a_clear_503(tmp_path: Path) -> None:
    client = _app(tmp_path / "missing-dist").test_client()
    for path in ["/", "/accounts/abc"]:
        response = client.get(path)
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert "npm run build" in response.get_json()["detail"]
        assert response.headers["Retry-After"] == "30"
    assert client.get("/api/v1/things").status_code == 200


def test_the_javascript_is_served_gzipped_to_clients_that_accept_it(dist: Path) -> None:
    script = "console.log('hexbank');\n" * 400
    (dist / "assets" / "big-def456.js").write_text(script)
    client = _app(dist).test_client()

    zipped = client.get("/assets/big-def456.js", headers={"Accept-Encoding": "gzip, br"})
    plain = client.get("/assets/big-def456.js", headers={"Accept-Encoding": "identity"})
    revalidate = {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    again = client.get("/assets/big-def456.js", headers=revalidate)

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data).decode() == script
    assert len(zipped.data) < len(script) / 3
    assert zipped.mimetype == "text/javascript" and zipped.headers["Cache-Control"] == IMMUTABLE
    assert "Content-Encoding" not in plain.headers and plain.get_data(as_text=True) == script
    assert (
        "Accept-Encoding" in zipped.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    )
    assert again.status_code == 304


def test_a_nul_in_a_web_app_path_is_404_not_500(client: FlaskClient) -> None:
    response = client.get("/assets/x%00.js")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
