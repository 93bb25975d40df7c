"""Projections: event -> read-model change, run inline by commands and by followers."""

from __future__ import annotations

from backend.application.event_codec import EventCodec
from backend.application.projections.accounts import AccountsProjection
from backend.application.projections.base import Projection
from backend.application.projections.transfers import TransfersProjection


def default_projections(codec: EventCodec) -> list[Projection]:
    """Every projection, in dependency order (transfer views read account summaries)."""
    return [AccountsProjection(codec), TransfersProjection(codec)]


__all__ = ["AccountsProjection", "Projection", "TransfersProjection", "default_projections"]
