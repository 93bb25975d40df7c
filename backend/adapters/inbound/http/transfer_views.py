"""/api/v1 transfers: accept a transfer (202, the saga runs asynchronously) and read them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, fields, validate

# The account views' paging (Link header) and event metadata serve transfers alike.
from backend.adapters.inbound.http.account_views import _page as page_response
from backend.adapters.inbound.http.account_views import metadata
from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.auth import current_user_id, requires_auth
from backend.adapters.inbound.http.idempotency import Recorder, idempotent
from backend.adapters.inbound.http.json_body import json_object_body
from backend.adapters.inbound.http.schemas import (
    JsonInteger,
    PageQuerySchema,
    StrictSchema,
    UtcDateTime,
    load,
    load_query,
    shared,
)
from backend.application.command_runner import CommandContext
from backend.application.commands import RequestTransfer
from backend.application.ports.idempotency import StoredResponse
from backend.application.transfers import request_transfer
from backend.domain.money import MAX_AMOUNT
from backend.domain.transfer import FailureReason, Transfer

STATUSES = ["pending", "completed", "failed"]
_ID = validate.Length(1, 128)


class RequestTransferSchema(StrictSchema):
    source_account_id = fields.String(required=True, validate=_ID)
    target_account_id = fields.String(required=True, validate=_ID)
    amount = JsonInteger(
        required=True,
        validate=validate.Range(1, MAX_AMOUNT),
        metadata={"description": "Minor units of the source account's currency."},
    )
    reference = fields.String(validate=validate.Length(max=200), allow_none=True)


class TransferListQuerySchema(PageQuerySchema):
    account_id = fields.String(validate=_ID)
    status = fields.String(validate=validate.OneOf(STATUSES))


class TransferSchema(Schema):
    id = fields.String(required=True)
    source_account_id = fields.String(required=True)
    target_account_id = fields.String(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    reference = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    failure_reason = fields.String(
        required=True, allow_none=True, validate=validate.OneOf([r.value for r in FailureReason])
    )
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    completed_at = UtcDateTime(required=True, allow_none=True)


class TransferPageSchema(Schema):
    items = fields.List(fields.Nested(TransferSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


def transfer_blueprint(services: ApiServices) -> Blueprint:
    """Transfer routes: out of the caller's accounts; visible to both accounts' owners."""
    blueprint = Blueprint("transfers", __name__)
    authenticated = requires_auth(services.identity)

    def queries() -> Any:
        if services.transfer_queries is None:
            raise RuntimeError("ApiServices.transfer_queries is not wired")
        return services.transfer_queries()

    @blueprint.post("/transfers")
    @authenticated
    def create_transfer() -> Response:
        body = json_object_body()
        data = load(shared(RequestTransferSchema), body)
        command = RequestTransfer(
            current_user_id(),
            data["source_account_id"],
            data["target_account_id"],
            data["amount"],
            data.get("reference"),
        )
        timeout = timedelta(seconds=services.settings.transfer_timeout)

        def perform(record: Recorder) -> StoredResponse:
            if services.transfer_admission is not None:
                services.transfer_admission().check()  # a new transfer only, not a replay

            def run(ctx: CommandContext) -> StoredResponse:
                transfer = request_transfer(command, ctx, timeout)
                stored = _accepted(ctx, transfer)
                record(ctx.uow, stored)  # the key and the transfer commit together
                return stored

            return services.runner().run(run, metadata())

        return idempotent(services.idempotency(), current_user_id(), body, perform)

    @blueprint.get("/transfers/<transfer_id>")
    @authenticated
    def get_transfer(transfer_id: str) -> Response:
        return jsonify(
            shared(TransferSchema).dump(queries().transfer(current_user_id(), transfer_id))
        )

    @blueprint.get("/transfers")
    @authenticated
    def list_transfers() -> Response:
        query = load_query(shared(TransferListQuerySchema))
        page = queries().transfers(
            current_user_id(),
            query.get("account_id"),
            query.get("status"),
            query["limit"],
            query.get("cursor"),
        )
        return page_response(shared(TransferPageSchema), page, query["limit"])

    return blueprint


def _accepted(ctx: CommandContext, transfer: Transfer) -> StoredResponse:
    """202 with the pending transfer, straight from the command (the saga has not started)."""
    requested_at = ctx.transfers.appended[-1].occurred_at
    body = {
        "id": transfer.id,
        "source_account_id": transfer.source_account_id,
        "target_account_id": transfer.target_account_id,
        "amount": transfer.money.amount,
        "currency": transfer.money.currency,
        "reference": transfer.reference,
        "status": transfer.status,
        "failure_reason": None,
        "created_at": requested_at,
        "updated_at": requested_at,
        "completed_at": None,
    }
    location = f"{request.script_root}/api/v1/transfers/{transfer.id}"
    return StoredResponse(202, shared(TransferSchema).dump(body), {"Location": location})
