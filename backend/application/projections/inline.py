"""Read-your-writes: project a command's own events inside the command's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from backend.application.command_runner import InlineProjector
from backend.application.ports import StoredEvent, UnitOfWork
from backend.application.projections.base import Projection


def inline_projector(projections: Sequence[Projection]) -> InlineProjector:
    """The CommandRunner hook: the follower applies the same events later and changes nothing."""

    def project(uow: UnitOfWork, appended: Sequence[StoredEvent]) -> None:
        if appended:
            for projection in projections:
                projection.apply(appended, uow.read_models, uow.events)

    return project
