"""Throwaway PostgreSQL and Redis servers that reliability tests may stop, kill and restart.

The machine's shared servers (5432, 6379) serve other people's runs at the same time, so a
test that injects a dependency outage never touches them: it starts its own on a free port,
with its own data directory, and restarts that one. A restart keeps the port and the data
directory (PostgreSQL keeps its data; this Redis keeps nothing, like a cache node that lost
its memory — the harshest case for the job queue).

Missing binaries skip the tests that need them, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.integration_services import unavailable, unique_name
from tests.live_stack import free_port, wait_for

START_TIMEOUT_SECONDS = 30
POSTGRES_BIN_DIRS = ("/usr/lib/postgresql", "/usr/local/pgsql/bin", "/opt/homebrew/bin")
#: Never appears in a log if the app keeps secrets (PostgreSQL trusts local users and ignores it).
DATABASE_PASSWORD = "pg-secret-Z8q2"


def postgres_bin_dir() -> Path | None:
    """The directory of initdb and postgres: from pg_config, else the Debian layout."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    root = Path(POSTGRES_BIN_DIRS[0])
    versions = sorted(root.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    return versions[0].parent if versions else None


@dataclass
class ServerProcess:
    """A server binary run as a subprocess in its own process group."""

    name: str
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: list[str], user: str | None = None) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, user=user
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int, timeout: float = 15) -> None:
        """Send `sig` to the server and its children; SIGKILL them if they outlive `timeout`."""
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        # Children (PostgreSQL backends) must be gone before the port and data dir are reused.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class RedisServer(ServerProcess):
    """`redis-server` without persistence on a free port: a restart empties it."""

    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self._spawn(argv)
        wait_for(self._answers, START_TIMEOUT_SECONDS, f"redis on {self.port}\n{self.log()}")
        return self

    def stop(self) -> None:
        self.signal_group(signal.SIGTERM)

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        time.sleep(down_for)  # the outage itself: nothing to poll for
        self.start()

    def _answers(self) -> bool:
        if not self.running:
            raise AssertionError(f"redis-server exited:\n{self.log()}")
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


@dataclass
class PostgresServer(ServerProcess):
    """A PostgreSQL cluster in a temporary directory, run as the `postgres` user when root."""

    bin_dir: Path = Path()
    directory: Path = Path()
    port: int = field(default_factory=free_port)

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def user(self) -> str | None:
        # PostgreSQL refuses to run as root; as anyone else it runs as that user.
        return "postgres" if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres:{DATABASE_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresServer:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust"]
        argv += ["-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"]
        subprocess.run(argv, check=True, capture_output=True, user=self.user, timeout=120)
        return self

    def start(self) -> PostgresServer:
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += ["-k", str(self.directory), "-c", "fsync=off", "-c", "listen_addresses=127.0.0.1"]
        argv += ["-c", "max_connections=200", "-c", "full_page_writes=off"]
        self._spawn(argv, self.user)
        wait_for(self._answers, START_TIMEOUT_SECONDS, f"postgres on {self.port}\n{self.log()}")
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, the data is checkpointed."""
        self.signal_group(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend: a crash, recovered from the WAL."""
        self.signal_group(signal.SIGKILL)

    def restart(self, down_for: float = 0.0, crash: bool = False) -> None:
        self.kill() if crash else self.stop()
        time.sleep(down_for)  # the outage itself: nothing to poll for
        self.start()

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = unique_name("db")
        execute(self.url(), f'CREATE DATABASE "{name}"', autocommit=True)
        return self.url(name)

    def _answers(self) -> bool:
        if not self.running:
            raise AssertionError(f"postgres exited:\n{self.log()}")
        try:
            execute(self.url(), "SELECT 1")
        except Exception:  # starting up, or not listening yet
            return False
        return True


def execute(url: str, statement: str, autocommit: bool = False) -> None:
    """Run one statement on a connection of its own."""
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2}, **options)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def start_redis(log_dir: Path) -> RedisServer:
    """A private Redis, or skip (fail under CI) when redis-server is missing."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed: private Redis for outage tests unavailable")
    return RedisServer("redis", log_dir / "redis.log").start()


def start_postgres(log_dir: Path) -> PostgresServer:
    """A private PostgreSQL cluster, or skip (fail under CI) when its binaries are missing."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        unavailable(
            "initdb/postgres not found (pg_config --bindir): private PostgreSQL unavailable"
        )
    if os.geteuid() == 0 and not _user_exists("postgres"):
        unavailable("running as root, and there is no `postgres` user to run PostgreSQL as")
    assert bin_dir is not None
    # Short and world-traversable: the socket path has a length limit, and the postgres user
    # must reach it (pytest's tmp dirs are private to root).
    directory = Path(tempfile.mkdtemp(prefix="hexbank-pg-"))
    server = PostgresServer(
        "postgres", log_dir / "postgres.log", bin_dir=bin_dir, directory=directory
    )
    return server.init().start()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def remove(server: PostgresServer) -> None:
    server.kill()
    shutil.rmtree(server.directory, ignore_errors=True)
