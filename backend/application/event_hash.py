"""The hash chain that makes each stream tamper-evident: what an event's hash covers, once.

hash(v) = SHA-256 of hash(v - 1) (64 hex digits; 64 zeros before version 1) followed by the
canonical form of event v, written as hex. The canonical form is the JSON object of the event's
type, schema_version, data, metadata, occurred_at, stream_id and version, with keys sorted, no
whitespace and every non-ASCII character escaped (so its bytes are ASCII, hence also UTF-8, and
a lone surrogate cannot make it unencodable); occurred_at is ISO 8601 in UTC with microseconds.
The hash covers the event as stored: upcasting on read changes nothing here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from backend.application.ports.event_store import NewEvent, StoredEvent

#: The "previous hash" of a stream's first event.
GENESIS: Final[str] = "0" * 64


def canonical_form(
    stream_id: str,
    version: int,
    type_name: str,
    schema_version: int,
    data: Mapping[str, Any],
    metadata: Mapping[str, Any],
    occurred_at: datetime,
) -> bytes:
    """The bytes an event's hash covers (see the module docstring)."""
    document = {
        "type": type_name,
        "schema_version": schema_version,
        "data": data,
        "metadata": metadata,
        "occurred_at": _utc_text(occurred_at),
        "stream_id": stream_id,
        "version": version,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def chain_hash(previous: str, canonical: bytes) -> str:
    """The hash of an event whose canonical form is `canonical`, after `previous`."""
    return hashlib.sha256(previous.encode("ascii") + canonical).hexdigest()


def stored_event_hash(previous: str, event: StoredEvent) -> str:
    """What `event`'s hash must be when the one before it in its stream hashes to `previous`."""
    canonical = canonical_form(
        event.stream_id, event.version, event.type, event.schema_version, event.data,
        event.metadata.to_dict(), event.occurred_at,
    )  # fmt: skip
    return chain_hash(previous, canonical)


def new_event_hashes(
    previous: str, stream_id: str, expected_version: int, events: Sequence[NewEvent]
) -> list[str]:
    """The hashes of `events` appended after `expected_version`, whose hash is `previous`."""
    hashes: list[str] = []
    for version, event in enumerate(events, start=expected_version + 1):
        canonical = canonical_form(
            stream_id, version, event.type, event.schema_version, event.data,
            event.metadata.to_dict(), event.occurred_at,
        )  # fmt: skip
        previous = chain_hash(previous, canonical)
        hashes.append(previous)
    return hashes


def _utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds; a naive moment is taken as UTC (how SQLite keeps it)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")
