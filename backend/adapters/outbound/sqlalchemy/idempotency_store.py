"""SQL adapter of the IdempotencyKeys port, on the unit of work's connection.

A key's row is inserted by the transaction that commits the command's effect. On PostgreSQL
that transaction first takes a transaction-level advisory lock on the key, without waiting: a
twin request that cannot get it is answered "in use" at once rather than queued. SQLite runs
writers one at a time, so a twin simply finds the committed row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from backend.adapters.outbound.sqlalchemy.driver import fetch_all
from backend.adapters.outbound.sqlalchemy.identity_tables import as_utc, idempotency_keys
from backend.application.errors import ConcurrencyError
from backend.application.idempotency import IdempotencyKeyInUse
from backend.application.ports.idempotency import KeyRecord

_TABLE = idempotency_keys
#: One 64-bit key per (schema, user, key): a space apart from the two-key append lock, and
#: named apart from the stream queues (event_store._QUEUE_SQL) by its '/idempotency/' part.
_TRY_HOLD_SQL = (
    "SELECT pg_try_advisory_xact_lock(hashtextextended("
    "current_schema() || '/idempotency/' || %s || '/' || %s, 0))"
)


class SqlAlchemyIdempotencyKeys:
    """Idempotency keys in one table, primary key (user_id, key)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"

    def hold(self, user_id: str, key: str) -> KeyRecord | None:
        if self._postgres and not fetch_all(self._connection, _TRY_HOLD_SQL, (user_id, key))[0][0]:
            raise IdempotencyKeyInUse("a request with this Idempotency-Key is still running")
        query = select(_TABLE).where(_TABLE.c.user_id == user_id, _TABLE.c.key == key)
        row = self._connection.execute(query).mappings().first()
        return _record(row) if row is not None else None

    def add(self, record: KeyRecord) -> None:
        try:  # the bus retries in a fresh transaction: no savepoint needed
            self._connection.execute(insert(_TABLE).values(**_row(record)))
        except IntegrityError as error:
            raise ConcurrencyError(
                f"idempotency key {record.key!r} was stored meanwhile"
            ) from error

    def forget(self, user_id: str, key: str) -> None:
        where = (_TABLE.c.user_id == user_id, _TABLE.c.key == key)
        self._connection.execute(delete(_TABLE).where(*where))

    def purge(self, created_before: datetime) -> None:
        self._connection.execute(delete(_TABLE).where(_TABLE.c.created_at < created_before))


def _row(record: KeyRecord) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "created_at": record.created_at,
        "result": record.result,
    }


def _record(row: Any) -> KeyRecord:
    return KeyRecord(
        row["user_id"], row["key"], row["fingerprint"], as_utc(row["created_at"]), row["result"]
    )
