"""The CRUD baseline of `http.deposit.ratio_vs_crud`: a plain Flask + SQLAlchemy deposit endpoint.

`POST /api/v1/accounts/<id>/deposits {"amount": n}` with hexbank's own bearer token: it verifies
the JWT (same secret, same PyJWT checks of signature, audience and issuer), validates the body
and runs one `UPDATE crud_accounts SET balance = balance + :amount ... RETURNING balance` for
the caller's account. No events, outbox, read model, idempotency or revocation check.

It runs from the same HEXBANK_* environment as the hexbank server it is compared with, on the
same database (engine from `create_engine_for`: same pool and SQLite pragmas) and under the same
gunicorn options (`gunicorn_options`: gthread, workers, threads), so only the app differs.

    python -m bench.crud_app          # serve on HEXBANK_HOST:HEXBANK_PORT
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
from flask import Flask, Response, jsonify, request
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    update,
)

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.config import Settings
from backend.entrypoints.cli.serve import HexbankApplication

ALGORITHM, AUDIENCE, ISSUER = "HS256", "hexbank-api", "hexbank"

crud_metadata = MetaData()
crud_accounts = Table(
    "crud_accounts",
    crud_metadata,
    Column("id", String(128), primary_key=True),
    Column("owner_id", String(128), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
)

_DEPOSIT = (
    update(crud_accounts)
    .values(
        balance=crud_accounts.c.balance + bindparam("amount"), version=crud_accounts.c.version + 1
    )
    .returning(crud_accounts.c.balance)
)


def seed(engine: Engine, owner_id: str, account_ids: list[str]) -> None:
    """Create the table if needed and insert the accounts the load generator will use."""
    crud_metadata.create_all(engine)
    rows = [{"id": i, "owner_id": owner_id, "balance": 0, "version": 0} for i in account_ids]
    with engine.begin() as connection:
        connection.execute(crud_accounts.insert(), rows)


def create_crud_app(engine: Engine, secret: str) -> Flask:
    """The baseline app: /healthz and one authenticated deposit endpoint."""
    app = Flask("crud")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.post("/api/v1/accounts/<account_id>/deposits")
    def deposit(account_id: str) -> tuple[Response, int]:
        owner = _caller(secret)
        if owner is None:
            return jsonify(title="unauthorized"), 401
        body = request.get_json(silent=True)
        amount = body.get("amount") if isinstance(body, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= 10**12:
            return jsonify(title="validation-error"), 422
        statement = _DEPOSIT.where(
            crud_accounts.c.id == account_id, crud_accounts.c.owner_id == owner
        )
        with engine.begin() as connection:
            balance = connection.execute(statement, {"amount": amount}).scalar_one_or_none()
        if balance is None:
            return jsonify(title="not-found"), 404
        return jsonify(account_id=account_id, amount=amount, balance_after=balance), 201

    return app


def _caller(secret: str) -> str | None:
    """The `sub` of a valid bearer token, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER)
    except jwt.PyJWTError:
        return None
    return str(claims["sub"])


class CrudServer(HexbankApplication):
    """hexbank's gunicorn application (same options for these settings), serving the CRUD app."""

    def load_config(self) -> None:
        super().load_config()
        self.cfg.set("proc_name", "hexbank-crud-bench")

    def load(self) -> Any:
        # Built in each worker after the fork, as hexbank builds its app.
        engine = create_engine_for(self.settings.database_url)
        return create_crud_app(engine, self.settings.secret_key)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    CrudServer(Settings.from_env()).run()
