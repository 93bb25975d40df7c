"""`hexbank serve`: the web app under gunicorn's threaded worker."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from sqlalchemy.exc import OperationalError

from backend.adapters.inbound.ws.capacity import raise_open_file_limit
from backend.adapters.outbound.metrics.prometheus import multiprocess_dir, use_multiprocess_dir
from backend.adapters.outbound.sqlalchemy.migrations_check import ensure_migrated
from backend.application.errors import UnmigratedDatabase
from backend.config import ConfigError, Settings
from backend.container import Container
from backend.entrypoints import gunicorn_hooks
from backend.entrypoints.cli.runtime import Runtime, pass_runtime
from backend.entrypoints.server import create_server_app
from backend.logging_setup import get_logger

log = get_logger(__name__)

# Workers close their websockets at once on SIGTERM; HTTP requests get this long to finish.
GRACEFUL_TIMEOUT_SECONDS = 5


class RootLogger(GunicornLogger):
    """gunicorn's own logs through the root logger, so they share our structured format."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


class HexbankApplication(BaseApplication):
    """gunicorn driven from Python, building the app in each worker from our settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:  # a Flask app; gunicorn's stubs type the WSGI callable narrowly
        # Runs in the worker after the fork: background threads must start here (gotcha 7).
        return create_server_app(self.settings)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for `settings` (names as in gunicorn's config module)."""
    return {
        "bind": [f"{settings.host}:{settings.port}"],
        "workers": settings.workers,
        "worker_class": "gthread",
        # HTTP only: open WebSockets are handed to the process's socket loop (ws/loop.py).
        "threads": settings.threads,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        # The default control socket path is shared by every gunicorn on the machine (gotcha 6).
        "control_socket_disable": True,
        "logger_class": RootLogger,
        "loglevel": settings.log_level.lower(),
        "accesslog": None,  # our middleware logs each request with its request id
        "proc_name": "hexbank",
        # Graceful stop (WebSockets closed with 1001, jobs drained) and metrics bookkeeping.
        "post_worker_init": gunicorn_hooks.post_worker_init,
        "worker_exit": gunicorn_hooks.worker_exit,
        "child_exit": gunicorn_hooks.child_exit,
    }


def prepare_metrics_dir(settings: Settings) -> Path:
    """Multiprocess metrics for the workers: PROMETHEUS_MULTIPROC_DIR when given (kept as is:
    others may share it), else a directory of this server's own under the data dir, emptied
    at start (one per port: two servers on one machine never share a port)."""
    given = multiprocess_dir()
    if given is not None:
        return use_multiprocess_dir(given, clean=False)
    own = settings.data_dir / "prometheus" / f"{settings.port}"
    return use_multiprocess_dir(own, clean=True)


@click.command()
@click.option("--host", help="Interface to bind (default: HEXBANK_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: HEXBANK_PORT).")
@click.option("--workers", type=click.IntRange(1), help="Processes (default: HEXBANK_WORKERS).")
@click.option("--threads", type=click.IntRange(1), help="Threads each (default: HEXBANK_THREADS).")
@pass_runtime
def serve(
    runtime: Runtime, host: str | None, port: int | None, workers: int | None, threads: int | None
) -> None:
    """Serve the HTTP and WebSocket API with gunicorn (gthread workers)."""
    try:
        settings = _with_overrides(runtime.settings(), host, port, workers, threads)
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    _check_schema(runtime.container())
    prepare_metrics_dir(settings)
    raise_open_file_limit(settings.ws_sockets)  # before the fork: workers inherit it
    log.info("serving", url=f"http://{settings.host}:{settings.port}", workers=settings.workers)
    HexbankApplication(settings).run()


def _with_overrides(
    settings: Settings, host: str | None, port: int | None, workers: int | None, threads: int | None
) -> Settings:
    # replace() re-runs Settings' checks (e.g. one worker in embedded mode).
    return dataclasses.replace(
        settings,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        threads=threads or settings.threads,
    )


def _check_schema(container: Container) -> None:
    # Checked once before gunicorn starts, so the message is one line, not a worker crash loop.
    # The workers build their own containers after the fork: this engine is closed here.
    engine = container.engine()
    try:
        ensure_migrated(engine)
    except UnmigratedDatabase as error:
        raise click.ClickException(str(error)) from error
    except OperationalError as error:
        # Not reachable yet: serve anyway; /readyz answers 503 until the database is back.
        log.warning("database unreachable at start", error=str(error.orig))
    finally:
        engine.dispose()
