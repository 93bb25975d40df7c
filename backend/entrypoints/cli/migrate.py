"""`hexbank migrate`: bring the database schema up to date with Alembic."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config

from backend.entrypoints.cli.runtime import Runtime, pass_runtime
from backend.logging_setup import get_logger

log = get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for this project, pointed at `database_url`."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    # ConfigParser interpolates '%', which URL-encoded options (e.g. %3D) contain.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


@click.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_runtime
def migrate(runtime: Runtime, revision: str) -> None:
    """Apply database migrations (Alembic upgrade)."""
    settings = runtime.settings()
    if settings.database_dialect == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.database_url, revision)
    log.info("database migrated", revision=revision, dialect=settings.database_dialect)
