"""Settings from the environment (12-factor): every knob is a HEXBANK_* variable."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit

from backend.application.repository import DEFAULT_SNAPSHOT_EVERY
from backend.application.transfers import DEFAULT_TRANSFER_TIMEOUT
from backend.application.webhook_delivery import DEFAULT_RETRY_DELAYS, DEFAULT_TIMEOUT
from backend.config_secret import stored_secret_key
from backend.domain.money import MINOR_UNIT_DIGITS

log = logging.getLogger(__name__)

Env = Literal["development", "production", "test"]
LogFormat = Literal["json", "text"]
T = TypeVar("T")

_ENVS = ("development", "production", "test")
_LOG_FORMATS = ("json", "text")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_MIN_SECRET_BYTES = 32
#: Every currency the domain knows, unless HEXBANK_CURRENCIES narrows the list.
DEFAULT_CURRENCIES = tuple(MINOR_UNIT_DIGITS)


class ConfigError(ValueError):
    """A HEXBANK_* variable is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A request budget such as `600/minute`."""

    count: int
    period_seconds: int

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse `<count>/<second|minute|hour|day>`."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour|day)\s*", text)
        if not match or int(match[1]) < 1:
            raise ValueError("expected <count>/<second|minute|hour|day>, e.g. 600/minute")
        return cls(int(match[1]), _RATE_PERIODS[match[2]])


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole runtime configuration, validated once at start-up.

    Each field is read from HEXBANK_<FIELD NAME>; the defaults below are the only ones.
    """

    env: Env
    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    read_database_url: str | None = None
    redis_url: str | None = None
    #: Starts every Redis key, channel and queue name, so that several deployments (or test
    #: runs) can share one Redis.
    redis_prefix: str = "hexbank:"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 32
    #: Open WebSockets one web process accepts (they hold no thread: one loop serves them all).
    ws_sockets: int = 10_000
    #: `hexbank worker` serves its Prometheus metrics on this port (on `host`) when set.
    metrics_port: int | None = None
    log_format: LogFormat = "text"
    log_level: str = "INFO"
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    transfer_timeout: float = DEFAULT_TRANSFER_TIMEOUT.total_seconds()
    max_body_bytes: int = 65536
    cors_origins: tuple[str, ...] = ()
    rate_limit: RateLimit | None = None
    currencies: tuple[str, ...] = DEFAULT_CURRENCIES
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 86400
    #: Reverse proxies in front that append to X-Forwarded-For / set X-Forwarded-Proto (nginx:
    #: 1). 0 ignores those headers, as a client may set them to anything.
    proxy_hops: int = 0
    #: Webhooks: seconds an attempt may take; seconds before each retry (one attempt more than
    #: delays); hosts that may be called over http or on private addresses in production.
    webhook_timeout: float = DEFAULT_TIMEOUT
    webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_allow_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Cross-field rules live here so that dataclasses.replace() re-checks them too.
        if self.embedded and self.workers > 1:
            raise ConfigError(
                "HEXBANK_WORKERS must be 1 in embedded mode (no HEXBANK_REDIS_URL): "
                "the in-process queue and push hub live in one process"
            )
        if len(self.secret_key.encode()) < _MIN_SECRET_BYTES:
            raise ConfigError(f"HEXBANK_SECRET_KEY must be at least {_MIN_SECRET_BYTES} bytes")

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: one process, in-process queue and pub/sub."""
        return self.redis_url is None

    @property
    def database_dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return _dialect(self.database_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read and validate every HEXBANK_* variable; raise ConfigError naming the bad one.

        A variable that is unset (or empty) leaves its field at the default declared above.
        """
        env = _Reader(environ)
        app_env = env.get("HEXBANK_ENV", "development", _choice(_ENVS))
        data_dir = env.get("HEXBANK_DATA_DIR", Path("var"), Path).absolute()
        default_db = f"sqlite:///{data_dir / 'hexbank.sqlite3'}"
        default_format = "json" if app_env == "production" else "text"
        return cls(
            env=cast(Env, app_env),
            data_dir=data_dir,
            database_url=env.get("HEXBANK_DATABASE_URL", default_db, _database_url),
            secret_key=_secret_key(environ, app_env, data_dir),
            log_format=cast(
                LogFormat,
                env.get("HEXBANK_LOG_FORMAT", default_format, _choice(_LOG_FORMATS)),
            ),
            **env.given(FIELD_PARSERS),
        )


class _Reader:
    """Reads one variable at a time and turns a parser's ValueError into a ConfigError."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def given(self, parsers: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
        """{field: parsed value} of each field whose HEXBANK_<FIELD> variable is set."""
        values = {
            field: self.get(_variable(field), None, parse) for field, parse in parsers.items()
        }
        return {field: value for field, value in values.items() if value is not None}

    def get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._environ.get(name, "").strip()
        if not raw:  # unset and empty mean the same: use the default
            return default
        try:
            return parse(raw)
        except ValueError as error:
            raise ConfigError(f"{name}={raw!r} is invalid: {error}") from error


def _choice(
    options: tuple[str, ...], normalise: Callable[[str], str] = str.lower
) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = normalise(text)
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("expected an integer") from None
        if not low <= value <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a number of seconds greater than 0")
    return value


def _dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def _database_url(url: str) -> str:
    """Accept SQLite and PostgreSQL URLs; PostgreSQL always goes through psycopg 3."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return url
    raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")


def _redis_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", prefix):
        raise ValueError("must be 1 to 64 of A-Z a-z 0-9 _ . : -")
    return prefix


def _redis_url(url: str) -> str:
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return url


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(item.strip().rstrip("/") for item in text.split(",") if item.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
    return origins


def _currencies(text: str) -> tuple[str, ...]:
    codes = tuple(item.strip().upper() for item in text.split(",") if item.strip())
    bad = [code for code in codes if not re.fullmatch(r"[A-Z]{3}", code)]
    if bad or not codes:
        raise ValueError("expected a comma-separated list of three-letter currency codes")
    return codes


def _secret_key(environ: Mapping[str, str], app_env: str, data_dir: Path) -> str:
    key = environ.get("HEXBANK_SECRET_KEY", "").strip()
    if key:
        return key  # its length is checked by Settings.__post_init__
    if app_env == "production":
        raise ConfigError("HEXBANK_SECRET_KEY is required when HEXBANK_ENV=production")
    return stored_secret_key(data_dir)


def _variable(field: str) -> str:
    """The environment variable of a Settings field."""
    return f"HEXBANK_{field.upper()}"


#: How each plain field is parsed from its variable (env, data_dir, database_url, secret_key
#: and log_format have defaults that depend on other variables: see `Settings.from_env`).
FIELD_PARSERS: dict[str, Callable[[str], Any]] = {
    "read_database_url": _database_url,
    "redis_url": _redis_url,
    "redis_prefix": _redis_prefix,
    "host": str,
    "port": _int_between(1, 65535),
    "workers": _int_between(1, 256),
    "threads": _int_between(1, 10_000),
    "ws_sockets": _int_between(0, 1_000_000),
    "metrics_port": _int_between(1, 65535),
    "log_level": _choice(_LOG_LEVELS, str.upper),
    "snapshot_every": _int_between(1, 10**9),
    "transfer_timeout": _positive_float,
    "max_body_bytes": _int_between(1, 2**31),
    "cors_origins": _origins,
    "rate_limit": RateLimit.parse,
    "currencies": _currencies,
    "access_token_ttl": _int_between(1, 10**9),
    "refresh_token_ttl": _int_between(1, 10**10),
    "proxy_hops": _int_between(0, 10),
    "webhook_timeout": _positive_float,
    "webhook_retry_delays": lambda text: tuple(_positive_float(t) for t in text.split(",")),
    "webhook_allow_hosts": lambda text: tuple(
        h.strip().lower() for h in text.split(",") if h.strip()
    ),
}

#: Every variable the settings are read from (one per field).
VARIABLES: Final = frozenset(_variable(f.name) for f in fields(Settings))
