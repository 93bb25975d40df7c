"""/api/docs: a small, dependency-free API browser served from the app (no CDN, no inline JS)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

STATIC_DIR = Path(__file__).parent / "static" / "docs"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hexbank API v1</title>
<link rel="stylesheet" href="/api/docs/static/docs.css">
<script src="/api/docs/static/docs.js" defer></script>
</head>
<body data-spec-url="/api/v1/openapi.json">
<header><h1>hexbank API v1</h1>
<p>Generated from <a href="/api/v1/openapi.json">openapi.json</a>.</p></header>
<nav id="toc" aria-label="Operations"></nav>
<main id="operations"><p>Loading the OpenAPI document…</p></main>
</body>
</html>
"""


def docs_blueprint() -> Blueprint:
    """The docs page and its script and stylesheet."""
    blueprint = Blueprint(
        "api_docs", __name__, static_folder=str(STATIC_DIR), static_url_path="/api/docs/static"
    )

    @blueprint.get("/api/docs")
    def docs() -> Response:
        return Response(_PAGE, mimetype="text/html")

    return blueprint
