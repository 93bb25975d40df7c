"""SQL adapters of the idempotency ports (IdempotencyStore, IdempotencyKeys).

The claim is its own committed transaction (so a twin request sees it at once); the response
is written through the command's unit of work, in the transaction that commits the effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.outbound.sqlalchemy.engine import deferred
from backend.adapters.outbound.sqlalchemy.identity_tables import as_utc, idempotency_keys
from backend.application.idempotency import IdempotencyKeyInUse
from backend.application.ports.idempotency import IdempotencyRecord, StoredResponse

_TABLE = idempotency_keys


class SqlAlchemyIdempotencyStore:
    """Idempotency keys in one table, primary key (user_id, key)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        # Bounded: the holder may release the key between our insert and our read.
        for _ in range(3):
            if self._insert(record):
                return None
            with deferred(self._engine).connect() as connection:
                existing = _load(connection, record.user_id, record.key)
            if existing is not None:
                return existing
        raise IdempotencyKeyInUse("the idempotency key keeps changing hands")

    def _insert(self, record: IdempotencyRecord) -> bool:
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(_TABLE).values(**_row(record)))
        except IntegrityError:
            return False
        return True

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        statement = update(_TABLE).where(_same_claim(stale)).values(**_row(record))
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def release(self, record: IdempotencyRecord) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(_TABLE).where(_same_claim(record), _TABLE.c.response_status.is_(None))
            )

    def purge(self, created_before: datetime) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.created_at < created_before))


class SqlAlchemyIdempotencyKeys:
    """IdempotencyKeys on the unit of work's connection: the response commits with the effect."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def complete(self, record: IdempotencyRecord, response: StoredResponse) -> None:
        statement = (
            update(_TABLE)
            .where(_same_claim(record))
            .values(
                response_status=response.status,
                response_body=response.body,
                response_headers=response.headers,
            )
        )
        if self._connection.execute(statement).rowcount != 1:
            # Our lease ran out and a twin took the key: our effect must not commit as well.
            raise IdempotencyKeyInUse("the idempotency key was taken over by another request")


def _same_claim(record: IdempotencyRecord) -> Any:
    return and_(
        _TABLE.c.user_id == record.user_id,
        _TABLE.c.key == record.key,
        _TABLE.c.lease_token == record.lease_token,
    )


def _row(record: IdempotencyRecord) -> dict[str, Any]:
    response = record.response
    return {
        "user_id": record.user_id,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "created_at": record.created_at,
        "lease_token": record.lease_token,
        "lease_expires_at": record.lease_expires_at,
        "response_status": response.status if response else None,
        "response_body": response.body if response else None,
        "response_headers": response.headers if response else None,
    }


def _load(connection: Connection, user_id: str, key: str) -> IdempotencyRecord | None:
    query = select(_TABLE).where(_TABLE.c.user_id == user_id, _TABLE.c.key == key)
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    response = None
    if row["response_status"] is not None:
        response = StoredResponse(
            row["response_status"], row["response_body"], row["response_headers"] or {}
        )
    return IdempotencyRecord(
        row["user_id"],
        row["key"],
        row["fingerprint"],
        as_utc(row["created_at"]),
        row["lease_token"],
        as_utc(row["lease_expires_at"]),
        response,
    )
