"""Reading a JSON object body the same way in every view (400 / 415 as API.md says)."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from backend.adapters.inbound.http.input_policy import check_json
from backend.adapters.inbound.http.problems import ProblemError


def json_object_body(*, required: bool = True) -> dict[str, Any]:
    """The request body as a dict; `{}` when there is none and `required` is False."""
    if not _has_body():
        if required:
            raise ProblemError("bad-request", "A JSON object body is required.")
        return {}
    if not is_json_media_type(request.mimetype):
        raise ProblemError("unsupported-media-type", "Send the body as application/json.")
    data = _parse(_body_bytes())
    if not isinstance(data, dict):
        raise ProblemError("bad-request", "The body must be a JSON object.")
    check_json(data)
    return data


def is_json_media_type(mimetype: str) -> bool:
    """application/json or any application/*+json type."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def body_too_large(limit: int) -> ProblemError:
    """413 payload-too-large for a body over `limit` bytes."""
    return ProblemError("payload-too-large", f"The request body exceeds {limit} bytes.")


def _body_bytes() -> bytes:
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    # A chunked body declares no length: werkzeug stops reading at the limit and hands over
    # what it read. One more byte from the connection tells a cut body from one that fits.
    if limit is None or request.content_length is not None or len(raw) < limit:
        return raw
    if request.environ["wsgi.input"].read(1):
        raise body_too_large(limit)
    return raw


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(
            raw, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicate_names
        )
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProblemError("bad-request", f"The body is not valid JSON: {error}") from None
    except RecursionError:  # nesting deeper than the parser's stack: refuse, don't 500
        raise ProblemError("bad-request", "The body is nested too deeply.") from None


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser would accept them.
    raise ValueError(f"{name} is not allowed")


def _refuse_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A name given twice is ambiguous (parsers differ on which one wins): refuse it.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("an object has a duplicate name")
    return obj
