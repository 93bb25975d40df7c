"""What the audit (`hexbank audit verify`) reads besides the log: every live read-model row and
snapshot, the projections' checkpoints, and a scratch store to fold the log into."""

from __future__ import annotations

from typing import Protocol

from backend.application.ports.event_store import Snapshot
from backend.application.ports.read_models import ReadModelStore
from backend.application.read_models import (
    AccountSummary,
    DailyTotal,
    TransactionRow,
    TransferSummary,
)


class ReadModelRows(Protocol):
    """Every row of each read model: full scans, for the audit."""

    def all_summaries(self) -> list[AccountSummary]: ...

    def all_transactions(self) -> list[TransactionRow]: ...

    def all_daily_totals(self) -> list[DailyTotal]: ...

    def all_transfers(self) -> list[TransferSummary]: ...


class ScratchReadModels(ReadModelStore, ReadModelRows, Protocol):
    """A private read-model store the audit folds the log into, and then lists."""


class SnapshotRows(Protocol):
    """Every stored snapshot (the latest of each stream), for the audit."""

    def all_snapshots(self) -> list[Snapshot]: ...


class Checkpoints(Protocol):
    """Where each projection's checkpoint is read (the live read models' reader)."""

    def checkpoint(self, name: str) -> int: ...
