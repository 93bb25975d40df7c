"""The start-up guard refuses a database that is not migrated to the head revision."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.migrations_check import ensure_migrated, expected_heads
from backend.adapters.outbound.sqlalchemy.schema import metadata
from backend.application.errors import UnmigratedDatabase
from tests.adapters.conftest import ALEMBIC_INI


def test_an_empty_database_is_refused_with_the_command_to_run(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    with pytest.raises(UnmigratedDatabase, match="run `hexbank migrate`"):
        ensure_migrated(engine)
    engine.dispose()


def test_a_database_behind_the_head_is_refused(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    config = Config(str(ALEMBIC_INI))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_event_store")
    assert expected_heads() != {"0001_event_store"}  # later revisions exist
    with pytest.raises(UnmigratedDatabase, match="0001_event_store"):
        ensure_migrated(engine)
    engine.dispose()


def test_a_database_at_the_head_passes_on_sqlite(sqlite_engine: Engine) -> None:
    ensure_migrated(sqlite_engine)


@pytest.mark.postgres
def test_a_database_at_the_head_passes_on_postgres(postgres_engine: Engine) -> None:
    ensure_migrated(postgres_engine)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_migrations_build_exactly_the_tables_the_code_declares(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """Alembic's autogenerate finds nothing to add or drop: no column, index or table of the
    code is missing from the migrated database, and none is left over."""
    engine: Engine = request.getfixturevalue(f"{backend}_engine")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
