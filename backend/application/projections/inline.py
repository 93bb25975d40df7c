"""Read-your-writes: project a command's own events inside the command's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from backend.application.command_runner import InlineProjector
from backend.application.ports.event_store import EventStore, StoredEvent
from backend.application.ports.read_models import ReadModelStore
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.projections.base import Projection

Applier = Callable[[Sequence[StoredEvent], ReadModelStore, EventStore], None]


def inline_projector(projections: Sequence[Projection]) -> InlineProjector:
    """The CommandRunner hook: the follower applies the same events later and changes nothing.

    A projection with an `apply_appended` (a cheaper path for a transaction's own events,
    which continue streams the rows already reflect) is given the events through it."""
    appliers: list[Applier] = [
        getattr(projection, "apply_appended", projection.apply) for projection in projections
    ]

    def project(uow: UnitOfWork, appended: Sequence[StoredEvent]) -> None:
        if appended:
            for apply in appliers:
                apply(appended, uow.read_models, uow.events)

    return project
