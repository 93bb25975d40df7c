"""One round of the transfer engine: a command that takes transfers some steps further, all
in one transaction (its handler, `advance_transfers`).

In each phase of the round, every transfer still pending takes its next step — the account
change and the transfer's record of it — in the batch's order, so a phase's holds all come
before the next phase's credits and the transfers of a batch spend each account in turn. Each
account and transfer is loaded once for the whole round (the repositories' identity maps)
and saved under its stream's version guard.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from backend.application.command_bus import CommandContext
from backend.application.commands import Advanced, AdvanceTransfers
from backend.application.errors import NotFound
from backend.application.ports.event_store import EventMetadata
from backend.application.transfer_steps import STEPS
from backend.domain.transfer import Transfer


def advance_transfers(command: AdvanceTransfers, ctx: CommandContext) -> list[Advanced]:
    """The listed transfers, and up to `command.claim` ready ones claimed in this transaction,
    take up to `command.steps` steps each."""
    # The engine itself reacts to what it appends: nothing goes round through the outbox. Its
    # saves are written together when the round ends, in the order they were made.
    ctx.accounts.publish = ctx.transfers.publish = False
    ctx.defer_writes()
    now = ctx.clock.now()
    claimed = ctx.uow.transfer_work.claim(now, command.claim) if command.claim else []
    requested_at = {claim.transfer_id: claim.requested_at for claim in claimed}
    pending = (*command.transfers, *((claim.transfer_id, claim.cause) for claim in claimed))
    done: dict[str, Advanced] = {}
    for _ in range(command.steps):
        results = [_advance(ctx, transfer_id, cause, now) for transfer_id, cause in pending]
        for result in results:
            done[result.transfer_id] = _merged(done.get(result.transfer_id), result)
        pending = tuple((r.transfer_id, r.cause) for r in results if r.moved and r.pending)
        if not pending:
            break
    return [
        dataclasses.replace(result, requested_at=requested_at.get(transfer_id))
        for transfer_id, result in done.items()
    ]


def _merged(before: Advanced | None, after: Advanced) -> Advanced:
    """What several phases of one transaction did to one transfer."""
    if before is None:
        return after
    accounts = tuple(dict.fromkeys((*before.accounts, *after.accounts)))
    moved = before.moved or after.moved
    return dataclasses.replace(after, moved=moved, accounts=accounts)


def _advance(ctx: CommandContext, transfer_id: str, cause: str | None, now: datetime) -> Advanced:
    transfer = ctx.transfers.get(transfer_id)
    if transfer is None:
        raise NotFound(f"transfer {transfer_id}")
    step = transfer.next_step(now)
    if step is None:  # ended already (another engine's claim, or a redelivery)
        return _advanced(transfer, cause, moved=False, accounts=())
    # Every event of the saga: the transfer id as correlation id, the event before as cause.
    meta = EventMetadata(correlation_id=transfer.id, causation_id=cause)
    before = len(ctx.accounts.saved)
    STEPS[step](ctx, transfer, meta, now)
    changed = ctx.accounts.saved[before:]
    if changed:
        meta = dataclasses.replace(meta, causation_id=changed[-1].event_id)
    recorded = ctx.transfers.save(transfer, meta)
    accounts = tuple(dict.fromkeys(event.stream_id for event in changed))
    cause = recorded[-1].event_id if recorded else cause
    return _advanced(transfer, cause, moved=bool(recorded), accounts=accounts)


def _advanced(
    transfer: Transfer, cause: str | None, *, moved: bool, accounts: tuple[str, ...]
) -> Advanced:
    return Advanced(transfer.id, cause, transfer.status, transfer.failure_reason, moved, accounts)
