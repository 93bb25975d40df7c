"""The web app's API types are generated from the served OpenAPI document: a change to the API
that is not followed by `make api-types` fails here (and `npm run types:check` in web-test
fails when api-types.ts was not regenerated from the committed document)."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from tests.api.conftest import js

COMMITTED = Path(__file__).resolve().parents[2] / "frontend" / "openapi.json"


def test_the_web_apps_copy_of_the_openapi_document_is_the_served_one(client: FlaskClient) -> None:
    served = js(client.get("/api/v1/openapi.json"))
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served == committed, (
        "frontend/openapi.json differs from GET /api/v1/openapi.json: run `make api-types` "
        "and commit frontend/openapi.json and frontend/src/lib/api-types.ts"
    )
