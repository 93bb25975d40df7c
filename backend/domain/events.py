"""Base of domain events: immutable past-tense facts with a schema version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """A fact that happened to one aggregate. Metadata (ids, time) lives in the envelope."""

    #: Version of this event's data shape; bump it and add an upcaster when the shape changes.
    schema_version: ClassVar[int] = 1


def event_type(cls: type[DomainEvent]) -> str:
    """The type name events of `cls` are stored and dispatched under: the class name."""
    return cls.__name__


def event_types(classes: Iterable[type[DomainEvent]]) -> tuple[str, ...]:
    """The type names of several event classes, in order."""
    return tuple(event_type(cls) for cls in classes)
