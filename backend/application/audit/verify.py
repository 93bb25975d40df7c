"""`verify`: the hash chains and the read models against the log, in one report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.application.audit.chains import ChainBreak, check_chains
from backend.application.audit.read_models import ReadModelAudit
from backend.application.audit.rows import RowMismatch
from backend.application.audit.snapshots import check_snapshots
from backend.application.event_codec import EventCodec
from backend.application.ports.audit import (
    Checkpoints,
    ReadModelRows,
    ScratchReadModels,
    SnapshotRows,
)
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.application.projections.base import Projection


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What `verify` found: counts, the log's digest, and the first break of each kind."""

    events: int
    streams: int
    digest: str
    rows: int
    checkpoints: dict[str, int]
    chain_break: ChainBreak | None
    mismatch: RowMismatch | None
    snapshots: int = 0
    snapshot_mismatch: RowMismatch | None = None

    @property
    def intact(self) -> bool:
        return (self.chain_break, self.mismatch, self.snapshot_mismatch) == (None, None, None)


@dataclass
class AuditSources:
    """Where `verify` reads: read-only units of work on the log, the live read models (and
    their checkpoints), the snapshots, and a scratch store to fold the log into."""

    uow_factory: UnitOfWorkFactory
    live: Checkpoints
    live_rows: ReadModelRows
    scratch: ScratchReadModels
    snapshots: SnapshotRows


def verify(
    sources: AuditSources, projections: Sequence[Projection], codec: EventCodec
) -> AuditReport:
    """Re-check every stream's chain, every read-model row and every snapshot against the log."""
    chains, chain_break = check_chains(sources.uow_factory)
    rows = ReadModelAudit(sources.uow_factory, projections, sources.scratch)
    mismatch = rows.run(sources.live, sources.live_rows)
    snapshots = sources.snapshots.all_snapshots()
    compared, snapshot_mismatch = check_snapshots(sources.uow_factory, snapshots, codec)
    return AuditReport(
        chains.events, len(chains.heads), chains.digest(), rows.compared, rows.marks,
        chain_break, mismatch, compared, snapshot_mismatch,
    )  # fmt: skip
