"""The plain baselines: Flask + SQLAlchemy endpoints without events, outbox, read models,
idempotency or revocation checks, authenticated with hexbank's own bearer token (same secret,
same PyJWT checks of signature, audience and issuer).

- `http.deposit.ratio_vs_crud`: `POST /api/v1/accounts/<id>/deposits {"amount": n}` runs one
  `UPDATE crud_accounts SET balance = balance + :amount ... RETURNING balance`.
- `transfers.*.ratio_vs_plain`: `POST /api/v1/transfers {source_account_id, target_account_id,
  amount}` moves the money synchronously in one transaction: two guarded balance UPDATEs (in
  account-id order, so two opposite transfers cannot deadlock) and one INSERT of the transfer;
  `201` once committed.

It runs from the same HEXBANK_* environment as the hexbank server it is compared with, on the
same database (engine from `create_engine_for`: same pool and SQLite pragmas) and under the same
gunicorn options (`gunicorn_options`: gthread, workers, threads), so only the app differs.

    python -m bench.crud_app          # serve on HEXBANK_HOST:HEXBANK_PORT
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from flask import Flask, Response, jsonify, request
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
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

crud_transfers = Table(
    "crud_transfers",
    crud_metadata,
    Column("id", String(128), primary_key=True),
    Column("source_account_id", String(128), nullable=False),
    Column("target_account_id", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

_DEPOSIT = (
    update(crud_accounts)
    .values(
        balance=crud_accounts.c.balance + bindparam("amount"), version=crud_accounts.c.version + 1
    )
    .returning(crud_accounts.c.balance)
)


def seed(engine: Engine, owner_id: str, account_ids: list[str], balance: int = 0) -> None:
    """Create the tables if needed and insert the accounts the load generator will use."""
    crud_metadata.create_all(engine)
    rows = [{"id": i, "owner_id": owner_id, "balance": balance, "version": 0} for i in account_ids]
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

    _register_transfers(app, engine, secret)
    return app


def _register_transfers(app: Flask, engine: Engine, secret: str) -> None:
    """The baseline transfer endpoint: the money moved in one transaction, 201 when done."""

    @app.post("/api/v1/transfers")
    def transfer() -> tuple[Response, int]:
        owner = _caller(secret)
        if owner is None:
            return jsonify(title="unauthorized"), 401
        body = request.get_json(silent=True)
        fields = _transfer_fields(body if isinstance(body, dict) else {})
        if fields is None:
            return jsonify(title="validation-error"), 422
        try:
            with engine.begin() as connection:
                transfer_id = _move(connection, owner, *fields)
        except _Refused:  # the transaction rolled back
            return jsonify(title="transfer-refused"), 422
        return jsonify(id=transfer_id, status="completed"), 201


def _transfer_fields(body: dict[str, Any]) -> tuple[str, str, int] | None:
    source, target, amount = (
        body.get(k) for k in ("source_account_id", "target_account_id", "amount")
    )
    valid_amount = isinstance(amount, int) and not isinstance(amount, bool) and 0 < amount <= 10**12
    if not (isinstance(source, str) and isinstance(target, str) and source != target):
        return None
    return (source, target, int(amount)) if valid_amount else None  # type: ignore[arg-type]


class _Refused(Exception):
    """A guard refused the transfer (unknown account, not the caller's, not enough money)."""


def _move(connection: Connection, owner: str, source: str, target: str, amount: int) -> str:
    """Both balance changes and the transfer row, in the caller's transaction."""
    legs = sorted([(source, -amount), (target, amount)])  # lock rows in one order
    for account_id, change in legs:
        guard = crud_accounts.c.id == account_id
        if change < 0:
            guard &= (crud_accounts.c.owner_id == owner) & (crud_accounts.c.balance >= amount)
        moved = connection.execute(_MOVE.where(guard), {"change": change}).scalar_one_or_none()
        if moved is None:
            raise _Refused(account_id)
    transfer_id = str(uuid.uuid4())
    row = {"id": transfer_id, "source_account_id": source, "target_account_id": target}
    connection.execute(
        insert(crud_transfers), row | {"amount": amount, "created_at": datetime.now(UTC)}
    )
    return transfer_id


_MOVE = (
    update(crud_accounts)
    .values(
        balance=crud_accounts.c.balance + bindparam("change"), version=crud_accounts.c.version + 1
    )
    .returning(crud_accounts.c.balance)
)


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
