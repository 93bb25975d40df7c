"""Parsing the JSON documents the store holds (event data, metadata, snapshots).

Every aggregate load parses each event since the last snapshot, so the parser matters: orjson
is about five times faster than the standard library. It refuses one thing `json.dumps`
writes, a lone surrogate escaped as text ("\\ud800"); such documents fall back to `json`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(document: str | bytes) -> Any:
    try:
        return orjson.loads(document)
    except orjson.JSONDecodeError:
        return json.loads(document)
