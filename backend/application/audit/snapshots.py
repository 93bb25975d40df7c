"""The snapshot check: every stored snapshot equals the fold of its stream up to its version.

Commands load aggregates from snapshots, so a changed snapshot would change what commands
decide (a balance) while the log still looks right. A snapshot of an older state shape is
skipped: loads ignore it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from backend.application.audit.rows import RowMismatch
from backend.application.event_codec import EventCodec
from backend.application.ports.event_store import EventStore, Snapshot
from backend.application.ports.unit_of_work import UnitOfWorkFactory
from backend.domain.account import Account
from backend.domain.aggregate import Aggregate
from backend.domain.transfer import Transfer

AGGREGATES: dict[str, type[Aggregate]] = {cls.STREAM_TYPE: cls for cls in (Account, Transfer)}


def check_snapshots(
    uow_factory: UnitOfWorkFactory, snapshots: Iterable[Snapshot], codec: EventCodec
) -> tuple[int, RowMismatch | None]:
    """(snapshots compared, the first that differs from its stream's fold, if any)."""
    compared = 0
    with uow_factory() as uow:
        for snapshot in snapshots:
            cls = AGGREGATES.get(snapshot.stream_type)
            if cls is None or snapshot.state_version != cls.STATE_VERSION:
                continue
            compared += 1
            if (mismatch := _compare(snapshot, cls, uow.events, codec)) is not None:
                return compared, mismatch
    return compared, None


def _compare(
    snapshot: Snapshot, cls: type[Aggregate], events: EventStore, codec: EventCodec
) -> RowMismatch | None:
    stored = events.read_stream(snapshot.stream_id, limit=snapshot.version)
    aggregate = cls(snapshot.stream_id)
    try:
        aggregate.replay([codec.decode(e.type, e.schema_version, e.data) for e in stored])
        folded: dict[str, Any] | None = _as_stored(aggregate.snapshot_state())
    except Exception:  # a tampered event may not even decode; the chain check names it
        folded = None
    if aggregate.version == snapshot.version and folded == snapshot.state:
        return None
    key = f"{snapshot.stream_id} {snapshot.version}"
    reason = f"differs from the fold of its stream up to version {snapshot.version}"
    fields = tuple(
        (name, snapshot.state.get(name), (folded or {}).get(name))
        for name in sorted({*snapshot.state, *(folded or {})})
        if snapshot.state.get(name) != (folded or {}).get(name)
    )
    return RowMismatch("snapshots", snapshot.stream_id, key, reason, fields)


def _as_stored(state: dict[str, Any]) -> dict[str, Any]:
    """The state as a JSON column gives it back (tuples become lists, and so on)."""
    loaded: dict[str, Any] = json.loads(json.dumps(state))
    return loaded
