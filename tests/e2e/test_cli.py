"""The `hexbank` command: `serve` really serves; `migrate` brings a database to the head."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import create_engine

from backend.config import Settings
from backend.entrypoints.cli.main import cli
from backend.entrypoints.cli.migrate import alembic_config
from backend.entrypoints.cli.serve import gunicorn_options
from backend.entrypoints.server import BACKGROUND_EXTENSION
from tests.conftest import TEST_SECRET_KEY
from tests.live_stack import free_port

HEXBANK = str(Path(sys.executable).with_name("hexbank"))
START_DEADLINE_SECONDS = 30


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXBANK_")}
    env.update(
        HEXBANK_ENV="test",
        HEXBANK_DATA_DIR=str(tmp_path / "var"),
        HEXBANK_SECRET_KEY=TEST_SECRET_KEY,
        HEXBANK_THREADS="4",
        **extra,
    )
    return env


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> tuple[int, bytes]:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "hexbank serve exited early"
        try:
            return get(url)
        except OSError:
            time.sleep(0.1)  # polling a port that is not open yet
    raise AssertionError(f"{url} did not answer within {START_DEADLINE_SECONDS} s")


def migrate(env: dict[str, str]) -> None:
    subprocess.run([HEXBANK, "migrate"], env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    migrate(server_env(tmp_path))
    port = free_port()
    process = subprocess.Popen(
        [HEXBANK, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.e2e
def test_serve_answers_healthz_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base = served

    status, body = wait_until_healthy(process, f"{base}/healthz")

    assert (status, body) == (200, b'{"status":"ok"}\n')
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


@pytest.mark.e2e
def test_serve_starts_on_an_unreachable_database_and_reports_it_on_readyz(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 1: the database is down, not unmigrated.
    env = server_env(tmp_path, HEXBANK_DATABASE_URL="postgresql+psycopg://hexbank@127.0.0.1:1/x")
    port = free_port()
    argv = [HEXBANK, "serve", "--host", "127.0.0.1", "--port", str(port)]
    # To a file, not a pipe: the retrying loops log tracebacks, and an unread pipe fills up.
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until_healthy(process, f"http://127.0.0.1:{port}/healthz")[0] == 200
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503
        assert b"database" in body
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_serve_configures_gunicorn_for_websockets(make_settings: object) -> None:
    settings = make_settings(HEXBANK_THREADS="16", HEXBANK_WS_SOCKETS="50")  # type: ignore[operator]
    options = gunicorn_options(settings)

    assert options["worker_class"] == "gthread"
    assert options["threads"] == 16  # open WebSockets are served by the socket loop, not threads
    assert options["control_socket_disable"] is True
    assert options["graceful_timeout"] == 5


def test_serve_refuses_several_workers_in_embedded_mode(tmp_path: Path) -> None:
    result = CliRunner(env=server_env(tmp_path)).invoke(cli, ["serve", "--workers", "2"])

    assert result.exit_code != 0
    assert "HEXBANK_WORKERS" in result.output


def test_a_config_error_is_a_clean_cli_error(tmp_path: Path) -> None:
    env = server_env(tmp_path, HEXBANK_PORT="eighty")
    result = CliRunner(env=env).invoke(cli, ["migrate"])

    assert result.exit_code == 1
    assert "HEXBANK_PORT" in result.output
    assert "Traceback" not in result.output


def test_the_wsgi_module_builds_an_app_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(server_env(tmp_path))
    for name, value in server_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "backend.entrypoints.wsgi", raising=False)

    wsgi = importlib.import_module("backend.entrypoints.wsgi")
    try:
        assert wsgi.app.test_client().get("/healthz").status_code == 200
    finally:
        wsgi.app.extensions[BACKGROUND_EXTENSION].stop()


def test_serve_refuses_an_unmigrated_database_and_says_to_migrate(tmp_path: Path) -> None:
    result = CliRunner(env=server_env(tmp_path)).invoke(cli, ["serve"])

    assert result.exit_code == 1
    assert "hexbank migrate" in result.output
    assert "Traceback" not in result.output


def assert_at_head(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    assert current == set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def test_migrate_brings_sqlite_to_the_head_revision(tmp_path: Path) -> None:
    result = CliRunner(env=server_env(tmp_path)).invoke(cli, ["migrate"])

    assert result.exit_code == 0, result.output
    assert_at_head(Settings.from_env(server_env(tmp_path)).database_url)


@pytest.mark.postgres
def test_migrate_brings_postgres_to_the_head_revision(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    env = server_env(tmp_path, HEXBANK_DATABASE_URL=fresh_postgres_url)
    result = CliRunner(env=env).invoke(cli, ["migrate"])

    assert result.exit_code == 0, result.output
    assert_at_head(fresh_postgres_url)
