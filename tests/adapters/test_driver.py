"""Statements sent straight to the driver (sqlalchemy/driver.py) run in the Connection's
transaction and fail the way Core's statements do."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from backend.adapters.outbound.sqlalchemy.driver import execute, execute_many, fetch_all
from backend.adapters.outbound.sqlalchemy.engine import create_engine_for, single_reads


def positional(engine: Engine, sql: str) -> str:
    """`sql` with the driver's placeholder: sqlite3 takes `?`, psycopg `%s`."""
    return sql if engine.dialect.name == "sqlite" else sql.replace("?", "%s")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )


def test_driver_statements_share_the_connections_transaction(url: str) -> None:
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE driver_rows (id INTEGER PRIMARY KEY, v INTEGER)"))
        with engine.connect() as connection:
            transaction = connection.begin()
            execute_many(
                connection,
                positional(engine, "INSERT INTO driver_rows VALUES (?, ?)"),
                [(1, 10), (2, 20)],
            )
            assert (
                execute(
                    connection,
                    positional(engine, "UPDATE driver_rows SET v = v + 1 WHERE id = ?"),
                    (1,),
                )
                == 1
            )
            rows = connection.execute(text("SELECT id, v FROM driver_rows ORDER BY id")).all()
            assert [tuple(row) for row in rows] == [(1, 11), (2, 20)]  # Core sees them
            transaction.rollback()
        with engine.connect() as connection:
            assert fetch_all(connection, "SELECT id FROM driver_rows") == []  # rolled back
    finally:
        engine.dispose()


def test_driver_errors_are_sqlalchemys_with_the_drivers_error_inside(url: str) -> None:
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE driver_keys (id INTEGER PRIMARY KEY)"))
            execute(connection, positional(engine, "INSERT INTO driver_keys VALUES (?)"), (1,))
        with engine.connect() as connection, pytest.raises(IntegrityError) as duplicate:
            execute(connection, positional(engine, "INSERT INTO driver_keys VALUES (?)"), (1,))
        assert isinstance(duplicate.value.orig, engine.dialect.loaded_dbapi.IntegrityError)
        with engine.connect() as connection, pytest.raises((OperationalError, ProgrammingError)):
            fetch_all(connection, "SELECT * FROM no_such_table")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_disconnect_under_a_driver_statement_invalidates_the_connection(
    postgres_url: str,
) -> None:
    engine, admin = create_engine_for(postgres_url), create_engine_for(postgres_url)
    try:
        with engine.connect() as connection:
            doomed = fetch_all(connection, "SELECT pg_backend_pid()")[0][0]
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed})
            with pytest.raises(DBAPIError) as lost:
                fetch_all(connection, "SELECT 1")
            assert lost.value.connection_invalidated
        with engine.connect() as connection:  # the pool hands out a working one
            assert fetch_all(connection, "SELECT pg_backend_pid()")[0][0] != doomed
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.postgres
def test_single_reads_run_without_a_transaction_on_postgres(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    try:
        with single_reads(engine).connect() as connection:
            fetch_all(connection, "SELECT 1")
            # autocommit: the statement was its own transaction, none is left open
            assert connection.connection.driver_connection.info.transaction_status == 0  # type: ignore[union-attr]
    finally:
        engine.dispose()
