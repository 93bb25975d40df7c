"""/api/v1 transfers: accept a transfer (202, the saga runs asynchronously) and read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, fields, validate

# The account views' paging (Link header) and event metadata serve transfers alike.
from backend.adapters.inbound.http.account_views import metadata, page_response
from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.auth import current_user_id, requires_auth
from backend.adapters.inbound.http.idempotency import idempotency_key, marked, request_key
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
from backend.application.commands import RequestTransfer
from backend.application.read_models import TransferSummary
from backend.domain.money import MAX_AMOUNT
from backend.domain.transfer import FailureReason

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
    """A Transfer as the API shows it: the read model's row, without its owners and keys."""

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
    views = TransferViews(services)
    routes: list[tuple[str, str, Callable[..., Response]]] = [
        ("/transfers", "POST", views.create_transfer),
        ("/transfers/<transfer_id>", "GET", views.get_transfer),
        ("/transfers", "GET", views.list_transfers),
    ]
    for rule, method, view in routes:
        blueprint.add_url_rule(rule, view.__name__, authenticated(view), methods=[method])
    return blueprint


class TransferViews:
    """The transfer endpoints: validate, build the command, run it on the bus, answer."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def create_transfer(self) -> Response:
        key = idempotency_key()  # a malformed key is refused before anything else is looked at
        body = json_object_body()
        data = load(shared(RequestTransferSchema), body)
        user_id = current_user_id()
        command = RequestTransfer(
            user_id,
            data["source_account_id"],
            data["target_account_id"],
            data["amount"],
            data.get("reference"),
        )
        outcome = self.services.bus().execute_once(
            command, metadata(), request_key(key, user_id, body), admit=self._admission()
        )
        return marked(transfer_response(outcome.result, 202), outcome)

    def _admission(self) -> Callable[[], None] | None:
        """What refuses (503, Retry-After) a new transfer the backlog would not finish in time
        (a replay of a keyed request already answered is not asked). The backlog is measured
        here, before the command's transaction: the check inside it reads nothing."""
        if self.services.transfer_admission is None:
            return None
        admission = self.services.transfer_admission()
        admission.refresh()
        return admission.admit

    def get_transfer(self, transfer_id: str) -> Response:
        return transfer_response(self._queries().transfer(current_user_id(), transfer_id))

    def list_transfers(self) -> Response:
        query = load_query(shared(TransferListQuerySchema))
        page = self._queries().transfers(
            current_user_id(),
            query.get("account_id"),
            query.get("status"),
            query["limit"],
            query.get("cursor"),
        )
        return page_response(shared(TransferPageSchema), page, query["limit"])

    def _queries(self) -> Any:
        if self.services.transfer_queries is None:
            raise RuntimeError("ApiServices.transfer_queries is not wired")
        return self.services.transfer_queries()


def transfer_response(view: TransferSummary, status: int = 200) -> Response:
    """A Transfer: 200 when read, 202 with its Location when just accepted (the saga runs on)."""
    response = jsonify(shared(TransferSchema).dump(view))
    response.status_code = status
    if status == 202:
        response.headers["Location"] = f"{request.script_root}/api/v1/transfers/{view.id}"
    return response
