"""The canonical form and hash are a stored format: pinned here, so a change is deliberate."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from backend.application.event_hash import GENESIS, canonical_form, chain_hash

WHEN = datetime(2026, 12, 7, 17, 31, 19, 123456, tzinfo=UTC)
META = {"correlation_id": "c", "causation_id": None, "user_id": "u", "request_id": "r"}


def deposit_form(moment: datetime = WHEN) -> bytes:
    data = {"amount": 1250, "currency": "EUR", "reference": "loyer é \u2028"}
    return canonical_form("acc-1", 2, "MoneyDeposited", 2, data, META, moment)


def test_the_canonical_form_is_sorted_compact_ascii_json_with_utc_microseconds() -> None:
    assert deposit_form() == (
        b'{"data":{"amount":1250,"currency":"EUR","reference":"loyer \\u00e9 \\u2028"},'
        b'"metadata":{"causation_id":null,"correlation_id":"c","request_id":"r","user_id":"u"},'
        b'"occurred_at":"2026-12-07T17:31:19.123456+00:00","schema_version":2,'
        b'"stream_id":"acc-1","type":"MoneyDeposited","version":2}'
    )


def test_the_hash_is_sha256_of_the_previous_hash_then_the_form() -> None:
    expected = hashlib.sha256(GENESIS.encode() + deposit_form()).hexdigest()
    assert chain_hash(GENESIS, deposit_form()) == expected
    assert chain_hash(expected, deposit_form()) != expected


def test_the_same_instant_in_any_offset_or_naive_utc_has_one_form() -> None:
    paris = WHEN.astimezone(timezone(timedelta(hours=1)))
    assert deposit_form(paris) == deposit_form(WHEN.replace(tzinfo=None)) == deposit_form()
