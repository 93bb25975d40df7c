"""Start-up guard: refuse to run against a database whose schema is not at the migration head."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from backend.adapters.outbound.sqlalchemy.engine import deferred
from backend.application.errors import UnmigratedDatabase

#: The repository's `migrations/` directory (next to `backend/`).
MIGRATIONS_DIR = Path(__file__).resolve().parents[4] / "migrations"


def expected_heads(script_location: Path = MIGRATIONS_DIR) -> set[str]:
    """The head revision(s) of the migration scripts shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return set(ScriptDirectory.from_config(config).get_heads())


def current_heads(engine: Engine) -> set[str]:
    """The revision(s) recorded in the database's alembic_version table (empty when none)."""
    # DEFERRED on SQLite: a read must not take the write lock.
    with deferred(engine).connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def ensure_migrated(engine: Engine, script_location: Path = MIGRATIONS_DIR) -> None:
    """Raise UnmigratedDatabase unless the database is exactly at the scripts' head."""
    _ensure_sqlite_file_exists(engine)
    expected, current = expected_heads(script_location), current_heads(engine)
    if current != expected:
        found = ", ".join(sorted(current)) or "no schema"
        raise UnmigratedDatabase(
            f"database schema is at {found}, this code needs {', '.join(sorted(expected))}:"
            " run `hexbank migrate`"
        )


def _ensure_sqlite_file_exists(engine: Engine) -> None:
    # A missing SQLite file is a database nobody migrated (and connecting would create it, or
    # fail with "unable to open database file" when its directory is missing too).
    database = engine.url.database
    is_file = engine.dialect.name == "sqlite" and database and database != ":memory:"
    if is_file and not Path(str(database)).exists():
        raise UnmigratedDatabase(f"no database at {database}: run `hexbank migrate`")
