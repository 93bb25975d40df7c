"""Alembic environment: the URL comes from the Alembic config or, failing that, from HEXBANK_*."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.schema import metadata
from backend.config import Settings

target_metadata = metadata


def database_url() -> str:
    """The URL set by the caller (`hexbank migrate`, tests), else the one HEXBANK_* configures."""
    return context.config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def _configure(*, connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection else make_url(url or "").get_backend_name()
    context.configure(
        connection=connection,
        url=url,
        literal_binds=connection is None,
        target_metadata=target_metadata,
        render_as_batch=dialect == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        transactional_ddl=True,  # both dialects do; our SQLite engine emits BEGIN itself
    )


def run_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade head --sql`)."""
    _configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run against a live connection (the caller's, when it passed one in `attributes`)."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine_for(database_url())
    try:
        with engine.connect() as new_connection:
            _run_on(new_connection)
    finally:
        engine.dispose()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
