"""The transfers projection: one view per transfer, visible to the owners of both accounts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from backend.application.event_codec import EventCodec
from backend.application.ports.event_store import EventStore, StoredEvent
from backend.application.ports.read_models import ReadModelStore
from backend.application.projections.base import of_stream_type, unseen
from backend.application.read_models import TransferSummary
from backend.domain.events import DomainEvent
from backend.domain.transfer import Transfer, TransferCompleted, TransferFailed, TransferRequested

NAME = "transfers"


def requested(
    event: TransferRequested, stored: StoredEvent, target_owner_id: str | None
) -> TransferSummary:
    """A new pending transfer; its source owner is whoever requested it."""
    at = stored.occurred_at
    return TransferSummary(
        stored.stream_id, event.source_account_id, event.target_account_id, event.amount,
        event.currency, event.reference, "pending", None, at, at, None, event.requested_by,
        target_owner_id, stored.version, stored.position,
    )  # fmt: skip


def transfer_after(
    view: TransferSummary, event: DomainEvent, stored: StoredEvent
) -> TransferSummary:
    """The view once `event` (the next of its stream) is applied."""
    status, reason, completed_at = view.status, view.failure_reason, view.completed_at
    match event:
        case TransferCompleted():
            status, completed_at = "completed", stored.occurred_at
        case TransferFailed(reason=failure):
            status, reason = "failed", failure
    # The saga's intermediate steps all show as pending: only version and updated_at move.
    return dataclasses.replace(
        view, status=status, failure_reason=reason, completed_at=completed_at,
        version=stored.version, updated_at=stored.occurred_at,
    )  # fmt: skip


class TransfersProjection:
    """Transfer views from Transfer events; target owners come from the account summaries."""

    name = NAME

    def __init__(self, codec: EventCodec) -> None:
        self._codec = codec

    def apply(
        self, events: Sequence[StoredEvent], store: ReadModelStore, history: EventStore
    ) -> None:
        mine = of_stream_type(events, Transfer.STREAM_TYPE)
        if not mine:
            return
        views = store.transfers({event.stream_id for event in mine})
        versions = {key: view.version for key, view in views.items()}
        decoded = [
            (stored, self._codec.decode(stored.type, stored.schema_version, stored.data))
            for stored in unseen(mine, versions, history)
        ]
        owners = self._target_owners(decoded, views.values(), store)
        changed: dict[str, TransferSummary] = {}
        for stored, event in decoded:
            view = _next(views.get(stored.stream_id), event, stored, owners)
            views[stored.stream_id] = changed[stored.stream_id] = view
        store.save_transfers(list(changed.values()))

    @staticmethod
    def _target_owners(
        decoded: Sequence[tuple[StoredEvent, DomainEvent]],
        views: Iterable[TransferSummary],
        store: ReadModelStore,
    ) -> dict[str, str]:
        """Owner of each target account we may need (a missing target has none)."""
        targets = {e.target_account_id for _, e in decoded if isinstance(e, TransferRequested)}
        targets |= {v.target_account_id for v in views if v.target_owner_id is None}
        summaries = store.account_summaries(targets) if targets else {}
        return {key: summary.owner_id for key, summary in summaries.items()}


def _next(
    view: TransferSummary | None, event: DomainEvent, stored: StoredEvent, owners: dict[str, str]
) -> TransferSummary:
    if isinstance(event, TransferRequested):
        return requested(event, stored, owners.get(event.target_account_id))
    if view is None:
        raise LookupError(f"{stored.type} of {stored.stream_id} before TransferRequested")
    if view.target_owner_id is None and view.target_account_id in owners:
        # The target's summary was not there when the request was projected; it is now.
        view = dataclasses.replace(view, target_owner_id=owners[view.target_account_id])
    return transfer_after(view, event, stored)
