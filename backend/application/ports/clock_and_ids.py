"""The clock and id-generator ports: where the application gets the time and new ids."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """The current time, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    """New opaque ids."""

    def new_id(self) -> str:
        """An id never handed out before."""
        ...
