"""The SQLite engine's PRAGMAs and BEGIN IMMEDIATE recipe; the PostgreSQL engine's basics."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for, deferred, ping_database


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sqlite_url)
    yield engine
    engine.dispose()


def pragma(engine: Engine, name: str) -> object:
    with deferred(engine).connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def begun_transactions(engine: Engine) -> list[str]:
    statements: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: statements.append(sql) if sql.startswith("BEGIN") else None,
    )
    return statements


def test_sqlite_connections_use_wal_foreign_keys_busy_timeout_and_normal_sync(
    engine: Engine,
) -> None:
    assert pragma(engine, "journal_mode") == "wal"
    assert pragma(engine, "foreign_keys") == 1
    assert pragma(engine, "busy_timeout") == 5000
    assert pragma(engine, "synchronous") == 1  # NORMAL


def test_sqlite_transactions_begin_immediate(engine: Engine) -> None:
    statements = begun_transactions(engine)

    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))

    assert statements == ["BEGIN IMMEDIATE"]


def test_an_immediate_transaction_holds_the_write_lock_from_its_first_read(
    engine: Engine, sqlite_url: str
) -> None:
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released once the first transaction ends
        other.rollback()
    finally:
        other.close()


def test_deferred_view_reads_without_taking_the_write_lock(engine: Engine, sqlite_url: str) -> None:
    statements = begun_transactions(engine)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0)
    try:
        with deferred(engine).connect() as connection:
            connection.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
    finally:
        other.close()

    assert statements == ["BEGIN DEFERRED"]


def test_read_only_engines_begin_deferred(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url, read_only=True)
    statements = begun_transactions(engine)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()

    assert statements == ["BEGIN DEFERRED"]


def test_a_rolled_back_transaction_leaves_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        connection.rollback()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))"))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), engine.begin() as connection:
        connection.execute(text("INSERT INTO child VALUES (42)"))


def test_ping_database_raises_when_the_database_cannot_be_opened() -> None:
    engine = create_engine_for("sqlite:////nonexistent-dir/db.sqlite3")
    with pytest.raises(OperationalError, match="unable to open"):
        ping_database(engine)


@pytest.mark.postgres
def test_postgres_engine_is_pooled_and_bound_to_the_session_schema(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    try:
        ping_database(engine)
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar()
        assert str(schema).startswith("hexbank_t_")
        assert engine.pool.size() == 10  # type: ignore[attr-defined]
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_pooled_postgres_connection_the_server_closed_is_replaced_on_checkout(
    postgres_url: str,
) -> None:
    """What pool_pre_ping did, without its SELECT 1 per checkout: a connection the server
    ended while it sat in the pool (a restart, pg_terminate_backend) is never handed out."""
    engine, admin = create_engine_for(postgres_url), create_engine_for(postgres_url)
    try:
        with engine.connect() as connection:
            doomed = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed})
        time.sleep(0.2)  # the server's FATAL and close reach the idle socket
        with engine.connect() as connection:
            replacement = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        assert replacement != doomed
    finally:
        engine.dispose()
        admin.dispose()
