"""What the bank simulation checks on its in-memory database: money in flight, a fresh
rebuild of the read models, and a digest of the event log (for replay checks)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

from backend.adapters.outbound.memory.event_store import InMemoryDatabase
from backend.adapters.outbound.memory.read_models import InMemoryReadModelReader
from backend.adapters.outbound.memory.unit_of_work import InMemoryUnitOfWork
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import StoredEvent
from backend.application.projections import default_projections
from backend.application.projections.runner import ProjectionRunner

CODEC = default_codec()  # built once: it introspects every event class
PROJECTIONS = default_projections(CODEC)


def credited_not_captured(events: Sequence[StoredEvent]) -> Counter[str]:
    """Per currency, money a transfer credited to its target and not yet took from its
    source; fails if any transfer credited or captured twice."""
    legs = [e for e in events if e.type in ("MoneyCredited", "HoldCaptured")]
    moves = Counter((e.type, e.data["transfer_id"]) for e in legs)
    assert max(moves.values(), default=0) <= 1, "a transfer moved money twice"
    in_flight: Counter[str] = Counter()
    for e in legs:
        if e.type == "MoneyCredited" and ("HoldCaptured", e.data["transfer_id"]) not in moves:
            in_flight[e.data["currency"]] += e.data["amount"]
    return in_flight


def follower(db: InMemoryDatabase) -> ProjectionRunner:
    """The projection follower of `db`."""
    reader = InMemoryReadModelReader(db)
    return ProjectionRunner(lambda: InMemoryUnitOfWork(db), PROJECTIONS, reader)


def assert_rebuild_equals_live(db: InMemoryDatabase) -> None:
    """Replaying the whole log into empty read models gives exactly the live ones."""
    fresh = InMemoryDatabase()
    fresh.events, fresh.streams = list(db.events), dict(db.streams)
    follower(fresh).catch_up()
    live, rebuilt = db.read_models.tables(), fresh.read_models.tables()
    assert live[:4] == rebuilt[:4], "the read models differ from a fresh rebuild"


def digest(events: Sequence[StoredEvent]) -> str:
    trace = [(e.position, e.stream_id, e.type, sorted(e.data.items())) for e in events]
    return hashlib.sha256(repr(trace).encode()).hexdigest()


def pending_transfers(db: InMemoryDatabase) -> list[str]:
    """Transfers whose stream has not reached TransferCompleted or TransferFailed."""
    return [
        stream_id
        for stream_id, stream in db.streams.items()
        if stream[0].type == "TransferRequested"
        and stream[-1].type not in ("TransferCompleted", "TransferFailed")
    ]
