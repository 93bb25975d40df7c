"""`verify`: the hash chains and the read models against the log, in one report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.application.audit.chains import ChainBreak, check_chains
from backend.application.audit.read_models import ReadModelAudit
from backend.application.audit.rows import RowMismatch
from backend.application.ports.audit import Checkpoints, ReadModelRows, ScratchReadModels
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

    @property
    def intact(self) -> bool:
        return self.chain_break is None and self.mismatch is None


@dataclass
class AuditSources:
    """Where `verify` reads: read-only units of work on the log, the live read models (and
    their checkpoints), and a scratch store to fold the log into."""

    uow_factory: UnitOfWorkFactory
    live: Checkpoints
    live_rows: ReadModelRows
    scratch: ScratchReadModels


def verify(sources: AuditSources, projections: Sequence[Projection]) -> AuditReport:
    """Re-check every stream's chain and every read-model row against the log."""
    chains, chain_break = check_chains(sources.uow_factory)
    rows = ReadModelAudit(sources.uow_factory, projections, sources.scratch)
    mismatch = rows.run(sources.live, sources.live_rows)
    return AuditReport(
        chains.events, len(chains.heads), chains.digest(), rows.compared, rows.marks,
        chain_break, mismatch,
    )  # fmt: skip
