"""Encodes domain events to JSON-ready data and back, upcasting old schema versions on read.

Stored events are never rewritten: an event written at schema version 1 stays so in the store
and is lifted through the chain of upcasters every time it is read.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from backend.domain.account import ACCOUNT_EVENTS, MoneyDeposited
from backend.domain.events import DomainEvent, event_type
from backend.domain.money import MINOR_UNIT_DIGITS
from backend.domain.transfer import TRANSFER_EVENTS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    """A stored event whose type no registered class handles."""


def _money_deposited_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 held `amount` as a decimal string of major units ("10.50") and assumed EUR."""
    currency = data.get("currency", "EUR")
    minor = Decimal(data["amount"]).scaleb(MINOR_UNIT_DIGITS[currency])
    # v1 validated at most the currency's digits; a row with more is rounded (half-even) rather
    # than left to make the whole account unloadable.
    return {**data, "amount": int(minor.to_integral_value(ROUND_HALF_EVEN)), "currency": currency}


#: (event type, schema version it reads) -> function producing the next version's data.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    (event_type(MoneyDeposited), 1): _money_deposited_v1_to_v2,
}


class EventCodec:
    """Maps event classes to their stored type names and (de)serialises their fields."""

    def __init__(
        self,
        event_classes: Iterable[type[DomainEvent]],
        upcasters: dict[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._classes = {event_type(cls): cls for cls in event_classes}
        self._upcasters = dict(upcasters or {})
        self._datetime_fields = {name: _datetime_fields(cls) for name, cls in self._classes.items()}

    def encode(self, event: DomainEvent) -> tuple[str, int, dict[str, Any]]:
        """(type, schema_version, data) of an event, at the current schema version."""
        data = {f.name: _encode_value(getattr(event, f.name)) for f in dataclasses.fields(event)}
        return event_type(type(event)), type(event).schema_version, data

    def decode(self, type_name: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
        cls = self._classes.get(type_name)
        if cls is None:
            raise UnknownEventType(type_name)
        data = self.upcast(type_name, schema_version, data)
        values = dict(data)
        for name in self._datetime_fields[type_name]:
            values[name] = datetime.fromisoformat(values[name])
        return cls(**values)

    def upcast(self, type_name: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Lift `data` from `schema_version` to the class's current version."""
        current = self._classes[type_name].schema_version
        while schema_version < current:
            data = self._upcasters[(type_name, schema_version)](data)
            schema_version += 1
        return data

    def current_version(self, type_name: str) -> int:
        return self._classes[type_name].schema_version


def _encode_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _datetime_fields(cls: type[DomainEvent]) -> tuple[str, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(f.name for f in dataclasses.fields(cls) if hints.get(f.name) is datetime)


def default_codec() -> EventCodec:
    """The codec for every event hexbank stores, with its upcasters."""
    return EventCodec((*ACCOUNT_EVENTS, *TRANSFER_EVENTS), UPCASTERS)
