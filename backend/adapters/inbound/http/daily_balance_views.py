"""GET /api/v1/accounts/{id}/daily-balances: the account's whole history, one row per day.

Read from the daily-totals read model, so a chart of years of history costs one query and a
few hundred rows, whatever page of transactions the client has loaded.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from marshmallow import Schema, fields

from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.auth import current_user_id, requires_auth
from backend.adapters.inbound.http.openapi_paths import ACCOUNT_ID, Operation
from backend.adapters.inbound.http.schemas import shared


class DailyBalanceSchema(Schema):
    """Money in and out on one UTC day, and the balance at the end of it."""

    day = fields.Date(required=True, metadata={"description": "The UTC day (YYYY-MM-DD)."})
    closing_balance = fields.Integer(required=True)
    deposits = fields.Integer(required=True)
    withdrawals = fields.Integer(required=True)
    transfers_in = fields.Integer(required=True)
    transfers_out = fields.Integer(required=True)


class DailyBalancesSchema(Schema):
    """Every day on which the account's balance moved, oldest first (days without a
    movement are absent: their balance is the previous day's closing balance)."""

    account_id = fields.String(required=True)
    currency = fields.String(required=True)
    items = fields.List(fields.Nested(DailyBalanceSchema), required=True)


SCHEMAS: dict[str, type[Schema]] = {
    "DailyBalance": DailyBalanceSchema,
    "DailyBalances": DailyBalancesSchema,
}

PATHS: dict[str, dict[str, Operation]] = {
    "/api/v1/accounts/{account_id}/daily-balances": {
        "get": Operation(
            "listDailyBalances",
            "The account's closing balance and movements per UTC day, whole history",
            "accounts",
            200,
            "DailyBalances",
            params=[ACCOUNT_ID],
            problems=(404,),
        )
    }
}


def daily_balance_blueprint(services: ApiServices) -> Blueprint:
    """The route; the owner only (anyone else gets 404, as on every account endpoint)."""
    blueprint = Blueprint("daily_balances", __name__)

    def daily_balances(account_id: str) -> Response:
        queries = services.account_queries()
        account = queries.account(current_user_id(), account_id)
        rows = queries.daily_totals(current_user_id(), account_id)
        body: dict[str, Any] = {"account_id": account.id, "currency": account.currency}
        return jsonify(shared(DailyBalancesSchema).dump({**body, "items": rows}))

    view = requires_auth(services.identity)(daily_balances)
    blueprint.add_url_rule("/accounts/<account_id>/daily-balances", "daily_balances", view)
    return blueprint
