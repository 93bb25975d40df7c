"""Parsing and writing the JSON documents the store holds (event data, metadata, snapshots,
and the rows a PostgreSQL statement takes as one JSON parameter).

Every aggregate load parses each event since the last snapshot, so the parser matters: orjson
is about five times faster than the standard library. It refuses one thing `json.dumps`
writes, a lone surrogate escaped as text ("\\ud800"), and writes no integer beyond 64 bits;
such documents fall back to `json`.
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


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a huge integer
        return json.dumps(value)
