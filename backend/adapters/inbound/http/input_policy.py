"""One input policy for every string a client sends, the same on SQLite and PostgreSQL.

Control characters (C0, DEL, C1) and lone UTF-16 surrogates are refused wherever text enters:
PostgreSQL cannot store NUL, no driver can encode a lone surrogate, and neither belongs in a
name, an email, a reference or an id. The check runs before any view, so a refused request
never writes or revokes anything. See docs/input-policy.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask import request

from backend.adapters.inbound.http.problems import ProblemError

#: In decoded text (JSON strings, query parameters, path segments): C0, DEL, C1, surrogates.
FORBIDDEN_IN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: In header values (latin-1 as HTTP carries them, RFC 9110 field-value): C0 but tab, and DEL.
#: Bytes 0x80-0xFF are obs-text there (UTF-8 sent raw), so C1 is not refused in headers.
FORBIDDEN_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_CLEAN = "[^\\u0000-\\u001f\\u007f-\\u009f]"
#: The JSON-Schema `pattern` the OpenAPI document gives every request string.
TEXT_PATTERN = f"^{_CLEAN}*$"
#: Clean text with something besides whitespace in it (for what the server trims).
NOT_BLANK_PATTERN = f"^{_CLEAN}*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{_CLEAN}*$"
MESSAGE = "Must not contain control characters or lone UTF-16 surrogates."


def is_clean(text: str) -> bool:
    """True when `text` holds no control character and no lone surrogate."""
    return FORBIDDEN_IN_TEXT.search(text) is None


def check_json(document: Any) -> None:
    """422 validation-error naming every field (dotted path) whose string breaks the policy."""
    _refuse(_bad_fields(document, ""), "A string holds a control character or a lone surrogate.")


def check_request() -> None:
    """Before any view: a bad path is 404, a bad header value 400, a bad query parameter 422."""
    if not is_clean(request.path):
        raise ProblemError("not-found", "There is no such resource.")
    bad_header = next(_bad_headers(request.headers.items()), None)
    if bad_header is not None:
        raise ProblemError("bad-request", f"The {bad_header} header holds a control character.")
    parameters = request.args.items(multi=True)
    bad = (printable(name) for name, value in parameters if not is_clean(name + value))
    _refuse(bad, "A query parameter holds a control character or a lone surrogate.")


def _refuse(fields: Iterable[str], detail: str) -> None:
    bad = sorted(set(fields))
    if bad:
        raise ProblemError("validation-error", detail, errors={field: [MESSAGE] for field in bad})


def _bad_headers(headers: Any) -> Iterator[str]:
    for name, value in headers:
        if FORBIDDEN_IN_HEADER.search(value):
            yield printable(name)


def _bad_fields(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if not is_clean(value):
            yield path or "_body"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            field = f"{path}.{printable(key)}" if path else printable(key)
            if not is_clean(key):
                yield field
            yield from _bad_fields(item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_fields(item, f"{path}.{index}" if path else str(index))


def printable(text: str) -> str:
    """`text` with each control character or surrogate written as a \\uXXXX escape."""
    return FORBIDDEN_IN_TEXT.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
