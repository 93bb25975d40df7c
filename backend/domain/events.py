"""Base of domain events: immutable past-tense facts with a schema version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """A fact that happened to one aggregate. Metadata (ids, time) lives in the envelope."""

    #: Version of this event's data shape; bump it and add an upcaster when the shape changes.
    schema_version: ClassVar[int] = 1
