"""The command registry: each command type and the one handler that carries it out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from backend.application import accounts, transfers, webhooks
from backend.application.command_bus import Handler
from backend.application.commands import (
    AdvanceTransfers,
    CloseAccount,
    Command,
    CreateWebhook,
    DeleteWebhook,
    Deposit,
    OpenAccount,
    RequestTransfer,
    RetryDelivery,
    Withdraw,
)
from backend.application.errors import NotFound
from backend.application.idempotency import ResultCodec
from backend.application.ports.event_feed import Webhook
from backend.application.queries import TransactionView
from backend.application.read_models import TransferSummary
from backend.application.transfer_round import advance_transfers
from backend.domain import errors as domain

#: The refusals of keyed commands that are answers, not accidents: recorded with the key and
#: replayed like a result. Conflicts, preconditions (If-Match is not part of the request's
#: fingerprint) and outages are not: a retry may succeed.
KEYED_REFUSALS: tuple[type[Exception], ...] = (
    domain.InvalidAmount,
    domain.UnsupportedCurrency,
    domain.CurrencyMismatch,
    domain.InsufficientFunds,
    domain.AccountClosed,
    domain.AccountNotEmpty,
    domain.InvalidAccountName,
    domain.SameAccount,
    NotFound,
)

#: What keyed commands (Idempotency-Key) return, stored with the key and replayed.
KEYED_RESULTS = ResultCodec(TransactionView, TransferSummary, Webhook, refusals=KEYED_REFUSALS)


def command_handlers(
    transfer_timeout: timedelta = transfers.DEFAULT_TRANSFER_TIMEOUT,
) -> Mapping[type[Command[Any]], Handler]:
    """Every command type of the application and its handler."""
    return {
        OpenAccount: accounts.open_account,
        Deposit: accounts.deposit,
        Withdraw: accounts.withdraw,
        CloseAccount: accounts.close_account,
        RequestTransfer: partial(transfers.request_transfer, timeout=transfer_timeout),
        AdvanceTransfers: advance_transfers,
        CreateWebhook: webhooks.create_webhook,
        DeleteWebhook: webhooks.delete_webhook,
        RetryDelivery: webhooks.retry_delivery,
    }
