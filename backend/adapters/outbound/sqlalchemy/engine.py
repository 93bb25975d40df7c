"""SQLAlchemy engines for SQLite (embedded) and PostgreSQL (distributed), tuned for events."""

from __future__ import annotations

import select
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from backend.adapters.outbound.sqlalchemy.json_documents import loads

# Execution option naming how a SQLite transaction begins: IMMEDIATE (default) or DEFERRED.
SQLITE_BEGIN = "hexbank_sqlite_begin"
_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")
_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "busy_timeout=5000",
    "foreign_keys=ON",
    "synchronous=NORMAL",
)


def read_engine_for(url: str | None, primary: Callable[[], Engine]) -> Engine:
    """The engine queries use: a replica's when `url` names one, else the primary's pool."""
    if url is None:
        return primary()
    return create_engine_for(url, read_only=True)


def create_engine_for(url: str, *, read_only: bool = False) -> Engine:
    """An engine for `url`; `read_only` engines begin SQLite transactions DEFERRED."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, begin="DEFERRED" if read_only else "IMMEDIATE")
    return _postgresql_engine(url)


def deferred(engine: Engine) -> Engine:
    """A view of `engine` (same pool) whose SQLite transactions begin DEFERRED, for pure reads."""
    return engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})


def single_reads(engine: Engine) -> Engine:
    """A view of `engine` for one-statement reads: on PostgreSQL in autocommit (the statement
    is its own transaction, so no BEGIN and ROLLBACK around it), on SQLite `deferred`."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return deferred(engine)


def ping_database(engine: Engine) -> None:
    """Raise unless the database answers `SELECT 1` (without taking SQLite's write lock)."""
    with deferred(engine).connect() as connection:
        connection.execute(text("SELECT 1"))


def _postgresql_engine(url: str) -> Engine:
    # connect_timeout bounds how long /readyz and start-up wait for a dead server.
    engine = create_engine(
        url, pool_size=10, connect_args={"connect_timeout": 5}, json_deserializer=loads
    )
    event.listen(engine, "checkout", _discard_if_closed_by_server)
    return engine


def _discard_if_closed_by_server(
    dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """What `pool_pre_ping` is for, without its round trip on every checkout (a tenth of a
    command's time): a connection idle in the pool has nothing to read unless the server
    closed it (restart, failover, pg_terminate_backend, idle timeout), so a zero-timeout poll
    of its socket tells. DisconnectionError makes the pool replace it and check out again.
    Not covered, as with pre-ping until a timeout: a peer gone without closing the socket."""
    if dbapi_connection.closed:
        raise DisconnectionError("the pooled connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed the pooled connection")


def _sqlite_engine(url: str, *, begin: str) -> Engine:
    engine = create_engine(url, execution_options={SQLITE_BEGIN: begin}, json_deserializer=loads)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(
    dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry
) -> None:
    # pysqlite would otherwise issue a deferred BEGIN lazily, letting a read-then-append
    # transaction read outside its lock (STACK.md gotcha 16); we emit BEGIN ourselves instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so two appenders serialise instead of
    # both reading the same stream version and one failing at commit.
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"{SQLITE_BEGIN} must be one of {_BEGIN_MODES}, not {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
