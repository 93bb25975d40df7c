"""gunicorn server hooks: a graceful stop of each worker, and metrics bookkeeping.

On SIGTERM a gthread worker stops accepting and waits (up to graceful_timeout) for the
connections it holds. Open WebSockets would hold it for the whole timeout (STACK.md gotcha 5),
so they are closed at once with 1001 (going away) and their clients reconnect elsewhere;
in-flight HTTP requests finish normally. Once the worker's loop has ended, the background
loops of an embedded server stop and the in-process jobs get a bounded time to finish; what
does not finish stays in the outbox and is relayed at the next start.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Final

from flask import Flask

from backend.adapters.inbound.ws.endpoint import WS_EXTENSION
from backend.adapters.outbound.metrics.prometheus import mark_process_dead
from backend.entrypoints.server import stop_background
from backend.logging_setup import get_logger

log = get_logger(__name__)

#: How long a stopping worker lets in-process jobs (saga steps) run before leaving them to
#: the outbox. Kept well under graceful_timeout: the master kills a worker after that.
JOB_DRAIN_SECONDS: Final = 2.0


def post_worker_init(worker: Any) -> None:
    """Close the worker's WebSockets as soon as it is told to stop (SIGTERM)."""
    stop = worker.handle_exit

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        stop(sig, frame)
        # Not in the signal handler itself: closing takes locks another thread may hold.
        threading.Thread(target=close_websockets, args=(_app(worker),), daemon=True).start()

    signal.signal(signal.SIGTERM, handle_exit)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn had it: no EINTR in requests


def worker_exit(_server: Any, worker: Any) -> None:
    """After the worker's last request: stop the loops and let queued jobs finish (bounded)."""
    app = _app(worker)
    if app is not None:
        close_websockets(app)
        stop_background(app, JOB_DRAIN_SECONDS)


def child_exit(_server: Any, worker: Any) -> None:
    """In the master, when a worker died: drop its live gauges from the merged metrics."""
    mark_process_dead(worker.pid)


def close_websockets(app: Flask | None) -> None:
    endpoint = app.extensions.get(WS_EXTENSION) if app is not None else None
    if endpoint is not None and endpoint.open_sockets:
        log.info("closing WebSockets", sockets=endpoint.open_sockets)
        endpoint.close()


def _app(worker: Any) -> Flask | None:
    app = getattr(worker, "wsgi", None)
    return app if isinstance(app, Flask) else None
