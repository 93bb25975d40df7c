"""Print the OpenAPI document that `GET /api/v1/openapi.json` serves with the default settings.

`make api-types` writes it to frontend/openapi.json, from which `npm run types` generates
src/lib/api-types.ts; tests/api/test_openapi_types.py fails when the served document drifts
from that committed copy.
"""

from __future__ import annotations

import json
import sys

from backend.adapters.inbound.http.openapi import build_spec
from backend.config import Settings


def document() -> str:
    # A throwaway key: without one, Settings.from_env would write a secret into var/.
    settings = Settings.from_env({"HEXBANK_SECRET_KEY": "openapi-document-only-" + "0" * 32})
    return json.dumps(build_spec(settings), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(document())
