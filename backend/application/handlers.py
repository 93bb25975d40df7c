"""The command registry: each command type and the one handler that carries it out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from backend.application import accounts, transfers, webhooks
from backend.application import transfer_steps as steps
from backend.application.command_bus import Handler
from backend.application.commands import (
    CaptureHold,
    CloseAccount,
    Command,
    CreateWebhook,
    CreditTarget,
    DeleteWebhook,
    Deposit,
    OpenAccount,
    PlaceHold,
    ReadTransfer,
    RecordTransferStep,
    ReleaseHold,
    RequestTransfer,
    RetryDelivery,
    Withdraw,
)
from backend.application.idempotency import ResultCodec
from backend.application.ports.event_feed import Webhook
from backend.application.queries import TransactionView
from backend.application.read_models import TransferSummary

#: What keyed commands (Idempotency-Key) return, stored with the key and replayed.
KEYED_RESULTS = ResultCodec(TransactionView, TransferSummary, Webhook)


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
        ReadTransfer: transfers.read_transfer,
        PlaceHold: transfers.AccountStepHandler(steps.place_hold),
        CreditTarget: transfers.AccountStepHandler(steps.credit),
        CaptureHold: transfers.AccountStepHandler(steps.capture),
        ReleaseHold: transfers.AccountStepHandler(steps.release),
        RecordTransferStep: transfers.record_transfer_step,
        CreateWebhook: webhooks.create_webhook,
        DeleteWebhook: webhooks.delete_webhook,
        RetryDelivery: webhooks.retry_delivery,
    }
