"""Settings.from_env: defaults, parsing, and errors that name the offending variable."""

from __future__ import annotations

import dataclasses
import re
import stat
from dataclasses import fields
from pathlib import Path

import pytest

from backend.config import FIELD_PARSERS, VARIABLES, ConfigError, RateLimit, Settings

SECRET = "x" * 32


def from_env(tmp_path: Path, **variables: str) -> Settings:
    return Settings.from_env({"HEXBANK_DATA_DIR": str(tmp_path), **variables})


def test_defaults_describe_embedded_development_mode(tmp_path: Path) -> None:
    settings = from_env(tmp_path)

    assert settings.env == "development"
    assert settings.embedded
    assert settings.database_url == f"sqlite:///{tmp_path}/hexbank.sqlite3"
    assert settings.database_dialect == "sqlite"
    assert settings.read_database_url is None
    assert (settings.host, settings.port, settings.workers, settings.threads) == (
        "127.0.0.1",
        8000,
        1,
        32,
    )
    assert (settings.log_format, settings.log_level) == ("text", "INFO")
    assert settings.snapshot_every == 100
    assert settings.transfer_timeout == 60.0
    assert settings.max_body_bytes == 65536
    assert settings.cors_origins == ()
    assert settings.rate_limit is None
    assert settings.currencies == ("EUR", "USD", "GBP", "KRW", "JPY")
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (900, 30 * 86400)


def test_every_variable_is_read(tmp_path: Path) -> None:
    settings = from_env(
        tmp_path,
        HEXBANK_ENV="production",
        HEXBANK_SECRET_KEY=SECRET,
        HEXBANK_DATABASE_URL="postgresql://u:p@db:5432/bank",
        HEXBANK_READ_DATABASE_URL="postgresql+psycopg://u:p@replica/bank",
        HEXBANK_REDIS_URL="redis://cache:6379/1",
        HEXBANK_HOST="0.0.0.0",
        HEXBANK_PORT="9000",
        HEXBANK_WORKERS="4",
        HEXBANK_THREADS="64",
        HEXBANK_LOG_LEVEL="debug",
        HEXBANK_SNAPSHOT_EVERY="10",
        HEXBANK_TRANSFER_TIMEOUT="2.5",
        HEXBANK_MAX_BODY_BYTES="1024",
        HEXBANK_CORS_ORIGINS="https://a.example, http://localhost:5173/",
        HEXBANK_RATE_LIMIT="600/minute",
        HEXBANK_CURRENCIES="eur, chf",
        HEXBANK_ACCESS_TOKEN_TTL="60",
        HEXBANK_REFRESH_TOKEN_TTL="3600",
        HEXBANK_PROXY_HOPS="1",
    )

    assert not settings.embedded
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/bank"
    assert settings.database_dialect == "postgresql"
    assert settings.read_database_url == "postgresql+psycopg://u:p@replica/bank"
    assert settings.redis_url == "redis://cache:6379/1"
    assert (settings.host, settings.port, settings.workers, settings.threads) == (
        "0.0.0.0",
        9000,
        4,
        64,
    )
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert (settings.snapshot_every, settings.transfer_timeout) == (10, 2.5)
    assert settings.max_body_bytes == 1024
    assert settings.cors_origins == ("https://a.example", "http://localhost:5173")
    assert settings.rate_limit == RateLimit(600, 60)
    assert settings.currencies == ("EUR", "CHF")
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (60, 3600)
    assert settings.proxy_hops == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEXBANK_ENV", "staging"),
        ("HEXBANK_DATABASE_URL", "mysql://root@localhost/bank"),
        ("HEXBANK_READ_DATABASE_URL", "not a url"),
        ("HEXBANK_REDIS_URL", "http://cache"),
        ("HEXBANK_PORT", "eighty"),
        ("HEXBANK_PORT", "70000"),
        ("HEXBANK_WORKERS", "0"),
        ("HEXBANK_THREADS", "-1"),
        ("HEXBANK_LOG_FORMAT", "xml"),
        ("HEXBANK_LOG_LEVEL", "LOUD"),
        ("HEXBANK_SNAPSHOT_EVERY", "0"),
        ("HEXBANK_TRANSFER_TIMEOUT", "0"),
        ("HEXBANK_TRANSFER_TIMEOUT", "nan"),
        ("HEXBANK_MAX_BODY_BYTES", "1.5"),
        ("HEXBANK_CORS_ORIGINS", "https://a.example/path"),
        ("HEXBANK_CORS_ORIGINS", "a.example"),
        ("HEXBANK_RATE_LIMIT", "600 per minute"),
        ("HEXBANK_RATE_LIMIT", "0/second"),
        ("HEXBANK_CURRENCIES", "EURO"),
        ("HEXBANK_ACCESS_TOKEN_TTL", "0"),
        ("HEXBANK_REFRESH_TOKEN_TTL", "soon"),
        ("HEXBANK_PROXY_HOPS", "-1"),
        ("HEXBANK_SECRET_KEY", "short"),
    ],
)
def test_an_invalid_variable_is_named_in_the_error(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        from_env(tmp_path, **{variable: value})


def test_empty_variables_mean_the_default(tmp_path: Path) -> None:
    assert from_env(tmp_path, HEXBANK_PORT="", HEXBANK_REDIS_URL=" ").port == 8000


def test_secret_key_is_generated_once_into_the_data_dir_outside_production(
    tmp_path: Path,
) -> None:
    first = from_env(tmp_path / "data")
    second = from_env(tmp_path / "data")

    key_file = tmp_path / "data" / "secret_key"
    assert first.secret_key == second.secret_key == key_file.read_text().strip()
    assert len(first.secret_key.encode()) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_generating_the_secret_key_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from_env(tmp_path)

    assert "HEXBANK_SECRET_KEY is not set" in caplog.text


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HEXBANK_SECRET_KEY"):
        from_env(tmp_path, HEXBANK_ENV="production")

    assert not (tmp_path / "secret_key").exists()


def test_the_secret_key_is_not_shown_in_repr(tmp_path: Path) -> None:
    settings = from_env(tmp_path, HEXBANK_SECRET_KEY=SECRET)

    assert SECRET not in repr(settings)


def test_embedded_mode_runs_one_worker_process(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HEXBANK_WORKERS"):
        from_env(tmp_path, HEXBANK_WORKERS="2")


def test_replacing_fields_checks_the_rules_again(tmp_path: Path) -> None:
    settings = from_env(tmp_path)

    with pytest.raises(ConfigError, match="HEXBANK_WORKERS"):
        dataclasses.replace(settings, workers=3)


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = from_env(tmp_path)

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_every_plain_field_is_read_from_its_variable() -> None:
    # A field left out of the parsers could never be configured: only those whose default
    # depends on other variables are read apart, in Settings.from_env.
    computed = {"env", "data_dir", "database_url", "secret_key", "log_format"}
    assert set(FIELD_PARSERS) == {f.name for f in fields(Settings)} - computed


def test_unset_variables_leave_the_declared_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEXBANK_DATA_DIR": str(tmp_path)})
    declared = {f.name: f.default for f in fields(Settings) if f.name in FIELD_PARSERS}
    assert {name: getattr(settings, name) for name in declared} == declared


def _documented_defaults() -> dict[str, str]:
    """The default column of the variables table (README.md, or a page under docs/)."""
    root = Path(__file__).parents[2]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    rows = (
        re.match(r"\| `(HEXBANK_[A-Z_]+)` \| ([^|]*) \|", line)
        for page in pages
        if page.exists()
        for line in page.read_text().splitlines()
    )
    return {row[1]: row[2].strip() for row in rows if row}


def _as_documented(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(_as_documented(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_the_documented_defaults_are_the_declared_ones() -> None:
    documented = _documented_defaults()
    assert set(documented) == set(VARIABLES)
    for f in fields(Settings):
        if f.name in FIELD_PARSERS and f.default not in (None, ()):
            shown = documented[f"HEXBANK_{f.name.upper()}"].split(" ")[0].strip("`")
            assert shown == _as_documented(f.default), f.name
