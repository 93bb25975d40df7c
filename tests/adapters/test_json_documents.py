"""The store's JSON parser: orjson, with the standard library for what orjson refuses."""

from __future__ import annotations

import json

from backend.adapters.outbound.sqlalchemy.json_documents import loads


def test_documents_parse_as_the_standard_library_parses_them() -> None:
    document = json.dumps({"amount": 10**12, "reference": "é ✓", "nested": [1, None, 2.5]})
    assert loads(document) == json.loads(document)
    assert loads(document.encode()) == json.loads(document)


def test_a_lone_surrogate_that_json_dumps_wrote_still_reads_back() -> None:
    # json.dumps escapes it; orjson refuses to parse the escape, so the fallback must.
    document = json.dumps({"reference": "\ud800"})
    assert loads(document) == {"reference": "\ud800"}
