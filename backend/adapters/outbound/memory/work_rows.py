"""The in-memory transfer-work row (the database's `transfer_work` table's twin)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class WorkRow:
    """A pending transfer: when it may be claimed next, and how often it was."""

    transfer_id: str
    requested_at: datetime
    ready_at: datetime
    attempts: int = 0
