"""Keyset pagination: opaque base64url-JSON cursors and the page they lead to.

Cursors carry the stable key of the last item served (a global position or a stream version),
never an offset, so rows that arrive meanwhile neither repeat nor go missing across pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from backend.application.errors import ApplicationError

T = TypeVar("T")

DEFAULT_LIMIT: Final[int] = 50
MAX_LIMIT: Final[int] = 200
#: Keys are positions and versions stored as 64-bit integers; a larger one cannot be queried.
MAX_KEY: Final[int] = 2**63 - 1


class InvalidCursor(ApplicationError):
    """A cursor that this service did not issue for this listing (malformed or tampered)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(kind: str, key: int) -> str:
    """An opaque cursor resuming listing `kind` after the item whose stable key is `key`."""
    raw = json.dumps({"k": kind, "v": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None, kind: str) -> int | None:
    """The key inside `cursor` (None when there is no cursor); InvalidCursor on anything else."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error, RecursionError) as error:
        raise InvalidCursor("malformed cursor") from error
    if not isinstance(data, dict) or data.get("k") != kind:
        raise InvalidCursor("cursor of another listing")
    key = data.get("v")
    if type(key) is not int or not 0 <= key <= MAX_KEY:
        raise InvalidCursor("malformed cursor key")
    return key


def page_of(
    rows: Sequence[T], limit: int, kind: str, key: Callable[[T], int]
) -> tuple[list[T], str | None]:
    """Split rows fetched with `limit + 1` into the page and the cursor to the next one."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    return items, encode_cursor(kind, key(items[-1]))
