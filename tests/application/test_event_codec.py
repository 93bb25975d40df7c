"""EventCodec: JSON-ready round trips for every event, upcasting old versions, unknown types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from backend.application.event_codec import (
    UPCASTERS,
    EventCodec,
    UnknownEventType,
    default_codec,
)
from backend.domain.account import (
    ACCOUNT_EVENTS,
    AccountClosed,
    AccountOpened,
    FundsHeld,
    HoldCaptured,
    HoldReleased,
    MoneyCredited,
    MoneyDeposited,
    MoneyWithdrawn,
)
from backend.domain.events import DomainEvent
from backend.domain.transfer import (
    TRANSFER_EVENTS,
    FailureReason,
    TransferCompensationStarted,
    TransferCompleted,
    TransferFailed,
    TransferFundsHeld,
    TransferRequested,
    TransferTargetCredited,
)

DEADLINE = datetime(2026, 11, 21, 10, 0, 30, 123456, tzinfo=UTC)

SAMPLES: list[DomainEvent] = [
    AccountOpened("owner-1", "Savings", "EUR"),
    MoneyDeposited(1050, "EUR", "salary"),
    MoneyDeposited(7, "JPY"),
    MoneyWithdrawn(300, "EUR", None),
    FundsHeld("t-1", 200, "EUR"),
    HoldReleased("t-1", 200, "EUR"),
    HoldCaptured("t-1", 200, "EUR", "acc-2", "gift"),
    MoneyCredited("t-1", 200, "EUR", "acc-1", None),
    AccountClosed(),
    TransferRequested("acc-1", "acc-2", 200, "EUR", "gift", "owner-1", DEADLINE),
    TransferFundsHeld(),
    TransferTargetCredited(),
    TransferCompleted(),
    TransferCompensationStarted(FailureReason.TARGET_ACCOUNT_CLOSED),
    TransferFailed(FailureReason.TIMED_OUT),
]


def test_the_samples_cover_every_stored_event_class() -> None:
    assert {type(event) for event in SAMPLES} == {*ACCOUNT_EVENTS, *TRANSFER_EVENTS}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_json(event: DomainEvent) -> None:
    codec = default_codec()
    type_name, schema_version, data = codec.encode(event)
    stored = json.loads(json.dumps(data))

    assert type_name == type(event).__name__
    assert schema_version == type(event).schema_version
    decoded = codec.decode(type_name, schema_version, stored)
    assert decoded == event
    assert type(decoded) is type(event)


def test_datetimes_are_stored_as_iso_text_and_come_back_aware() -> None:
    codec = default_codec()
    _, _, data = codec.encode(SAMPLES[9])
    assert data["deadline"] == "2026-11-21T10:00:30.123456+00:00"

    decoded = codec.decode("TransferRequested", 1, data)
    assert isinstance(decoded, TransferRequested)
    assert decoded.deadline == DEADLINE
    assert decoded.deadline.utcoffset() is not None


def test_money_deposited_is_encoded_at_version_two() -> None:
    assert default_codec().encode(MoneyDeposited(1, "EUR")) == (
        "MoneyDeposited",
        2,
        {"amount": 1, "currency": "EUR", "reference": None},
    )
    assert default_codec().current_version("MoneyDeposited") == 2


def test_a_v1_money_deposited_is_upcast_to_minor_units_in_eur() -> None:
    decoded = default_codec().decode("MoneyDeposited", 1, {"amount": "10.50"})
    assert decoded == MoneyDeposited(1050, "EUR", None)


def test_a_v1_money_deposited_keeps_its_reference() -> None:
    decoded = default_codec().decode("MoneyDeposited", 1, {"amount": "0.07", "reference": "r"})
    assert decoded == MoneyDeposited(7, "EUR", "r")


def test_a_v1_money_deposited_with_a_currency_uses_that_currencys_minor_unit() -> None:
    assert default_codec().decode("MoneyDeposited", 1, {"amount": "1050", "currency": "JPY"}) == (
        MoneyDeposited(1050, "JPY")
    )
    assert default_codec().decode("MoneyDeposited", 1, {"amount": "3", "currency": "USD"}) == (
        MoneyDeposited(300, "USD")
    )


def test_upcasting_leaves_the_stored_data_untouched() -> None:
    stored = {"amount": "10.50"}
    default_codec().decode("MoneyDeposited", 1, stored)
    assert stored == {"amount": "10.50"}


def test_a_current_version_event_is_not_upcast() -> None:
    data = {"amount": 1050, "currency": "EUR", "reference": None}
    assert default_codec().upcast("MoneyDeposited", 2, data) == data


def test_upcasters_chain_through_every_version() -> None:
    def cents_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        return {"amount": str(Decimal(data["cents"]).scaleb(-2))}

    codec = EventCodec([MoneyDeposited], {("MoneyDeposited", 0): cents_v0_to_v1, **UPCASTERS})
    assert codec.decode("MoneyDeposited", 0, {"cents": 250}) == MoneyDeposited(250, "EUR")


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        default_codec().decode("MoneyTeleported", 1, {})
