"""GET /api/v1/meta (public): what a client needs to know before it asks anything else.

Today the supported currencies and their minor-unit exponents, so a client parses "10.50"
EUR and "10000" KRW without a copy of the list that the deployment's settings may change.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields

from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.openapi_paths import Operation
from backend.adapters.inbound.http.schemas import shared
from backend.domain.money import MAX_AMOUNT, MINOR_UNIT_DIGITS


class CurrencySchema(Schema):
    """One supported currency."""

    code = fields.String(required=True, metadata={"description": "ISO 4217, e.g. EUR."})
    minor_unit_digits = fields.Integer(
        required=True,
        metadata={"description": "Digits after the decimal point: 2 for EUR (cents), 0 for KRW."},
    )


class MetaSchema(Schema):
    """Facts of this deployment that clients need."""

    currencies = fields.List(fields.Nested(CurrencySchema), required=True)
    max_amount = fields.Integer(
        required=True,
        metadata={"description": "The largest `amount` (minor units) one command moves."},
    )


SCHEMAS: dict[str, type[Schema]] = {"Currency": CurrencySchema, "Meta": MetaSchema}

PATHS: dict[str, dict[str, Operation]] = {
    "/api/v1/meta": {
        "get": Operation(
            "getMeta",
            "Supported currencies (with their minor-unit digits) and the amount bounds",
            "meta",
            200,
            "Meta",
            auth=False,
        )
    }
}


def meta_blueprint(services: ApiServices) -> Blueprint:
    """The public route (no token: the sign-up screen needs it too)."""
    blueprint = Blueprint("meta", __name__)
    currencies = [
        {"code": code, "minor_unit_digits": MINOR_UNIT_DIGITS[code]}
        for code in services.settings.currencies
        if code in MINOR_UNIT_DIGITS  # one the domain cannot hold could not be opened anyway
    ]
    body = shared(MetaSchema).dump({"currencies": currencies, "max_amount": MAX_AMOUNT})
    blueprint.add_url_rule("/meta", "meta", lambda: jsonify(body))
    return blueprint
