"""Fixtures shared by the whole suite: settings, and isolated PostgreSQL, Redis and SQLite.

PostgreSQL and Redis are real servers shared with other people's concurrent runs:
- `postgres_url` is a URL bound to a schema of its own for this session (dropped at the end);
  `fresh_postgres_url` gives each test an empty schema of its own.
- every Redis key, queue name and channel a test creates MUST contain `redis_prefix`; the keys
  containing it are deleted when the session ends, and nothing else is ever flushed.
Unreachable servers skip the tests that need them, except under CI=true, where they fail.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backend.config import Settings
from backend.entrypoints.cli.migrate import upgrade_database
from tests.integration_services import (
    delete_prefixed_keys,
    postgres_base_url,
    redis_base_url,
    temporary_schema,
    unique_name,
)

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"

SettingsFactory = Callable[..., Settings]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a schema private to this test session."""
    with temporary_schema(postgres_base_url()) as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A PostgreSQL URL bound to a new, empty schema for this test only."""
    with temporary_schema(postgres_base_url()) as url:
        yield url


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """Put this in every Redis key, queue and channel name a test uses."""
    return unique_name()


@pytest.fixture(scope="session")
def redis_url(redis_prefix: str) -> Iterator[str]:
    """A real Redis; keys containing `redis_prefix` are deleted at the end of the session."""
    url = redis_base_url()
    yield url
    delete_prefixed_keys(url, redis_prefix)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A file-based SQLite database in this test's temporary directory."""
    return f"sqlite:///{tmp_path / 'hexbank.sqlite3'}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the migration head, copied for each test (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "hexbank.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def make_settings(tmp_path: Path, migrated_template: Path) -> SettingsFactory:
    """Build Settings as from the environment: `make_settings(HEXBANK_PORT="9000")`.

    Defaults: HEXBANK_ENV=test, a fixed secret key, and a data dir in tmp_path holding the
    embedded SQLite database already at the migration head (the app refuses any other).
    """

    data_dir = tmp_path / "var"
    data_dir.mkdir(exist_ok=True)
    shutil.copy(migrated_template, data_dir / "hexbank.sqlite3")

    def build(**variables: str) -> Settings:
        environ = {
            "HEXBANK_ENV": "test",
            "HEXBANK_DATA_DIR": str(data_dir),
            "HEXBANK_SECRET_KEY": TEST_SECRET_KEY,
            **variables,
        }
        return Settings.from_env(environ)

    return build


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """Embedded-mode test settings (SQLite in tmp_path, no Redis)."""
    return make_settings()
