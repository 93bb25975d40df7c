"""Requesting a transfer: the 202's command. The transfer engine (transfer_engine.py) runs it
from there."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Final

from backend.application.command_bus import CommandContext
from backend.application.commands import RequestTransfer
from backend.application.errors import NotFound
from backend.application.projections.transfers import requested
from backend.application.read_models import TransferSummary
from backend.domain.money import Money
from backend.domain.transfer import Transfer, TransferRequested

#: How long a transfer may stay pending before it times out (HEXBANK_TRANSFER_TIMEOUT
#: overrides it).
DEFAULT_TRANSFER_TIMEOUT: Final[timedelta] = timedelta(seconds=60)


def request_transfer(
    command: RequestTransfer, ctx: CommandContext, timeout: timedelta = DEFAULT_TRANSFER_TIMEOUT
) -> TransferSummary:
    """Accept a transfer out of the caller's account, the engine decides the rest; the pending
    transfer, built as the read model builds its row.

    The source's owner and currency never change, so its read-model row (written with its
    opening, in that transaction) answers for them without replaying the account; whether it
    can pay is the hold's to decide. Someone else's account is NotFound, never a hint."""
    source_id, target_id = command.source_account_id, command.target_account_id
    rows = ctx.uow.read_models.account_summaries([source_id, target_id])
    source = rows.get(source_id)
    if source is None or source.owner_id != command.owner_id:
        raise NotFound(f"account {source_id}")
    money = Money.positive(command.amount, source.currency)
    transfer = Transfer.request(
        ctx.ids.new_id(), source_id, target_id, money, command.reference,
        command.owner_id, ctx.clock.now(), timeout,
    )  # fmt: skip
    event = transfer.pending_events[0]
    # Every event of the saga shares the transfer id as correlation id, from the first on.
    metadata = dataclasses.replace(ctx.metadata, correlation_id=transfer.id)
    stored = ctx.transfers.save(transfer, metadata)[0]
    assert isinstance(event, TransferRequested)  # noqa: S101 - what Transfer.request records
    target = rows.get(target_id)
    return requested(event, stored, target.owner_id if target else None)
