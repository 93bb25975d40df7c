"""The app a server process runs (`hexbank serve`, the WSGI module): the web app and, in
embedded mode, the background side of this process (engine, relay, jobs, follower)."""

from __future__ import annotations

from flask import Flask

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.app import CONTAINER_EXTENSION, create_app
from backend.config import Settings
from backend.container import Container, build_container
from backend.entrypoints.event_loops import start_event_loops
from backend.entrypoints.loops import MessagingLoops, start_messaging
from backend.logging_setup import get_logger

log = get_logger(__name__)

#: The engine, relay and follower loops of an embedded server process (stopped on shutdown).
BACKGROUND_EXTENSION = "hexbank.background"
#: The feed follower and webhook delivery loops of an embedded server process.
EVENTS_EXTENSION = "hexbank.events"


def create_server_app(settings: Settings | None = None) -> Flask:
    """The app as a server process runs it.

    Embedded mode has no `hexbank worker`, so this process also runs the transfer engine, the
    outbox relay, the jobs and the projection follower. Call it in the server's worker
    process, after any fork: threads do not survive one.
    """
    settings = settings if settings is not None else Settings.from_env()
    # A web process: in distributed mode its commands wake the workers' relays.
    container = build_container(settings, serves_http=True)
    app = create_app(settings, container)
    if settings.embedded:
        app.extensions[BACKGROUND_EXTENSION] = start_background(container)
        app.extensions[EVENTS_EXTENSION] = start_event_loops(container)
    return app


def start_background(container: Container) -> MessagingLoops:
    """The background loops of this process, woken by its commands."""
    return start_messaging(
        container.outbox_relay(),
        container.transfer_engine(),
        container.relay_wakeup(),
        container.engine_wakeup(),
        projections=container.projection_runner(),
    )


def stop_background(app: Flask, drain_seconds: float) -> None:
    """Stop the engine, relay and follower loops, then wait for the in-process jobs."""
    events = app.extensions.pop(EVENTS_EXTENSION, None)
    if events is not None:
        events.stop()  # a delivery cut short is sent again once its claim expires
    loops = app.extensions.pop(BACKGROUND_EXTENSION, None)
    if loops is None:
        return
    loops.stop()
    queue = app.extensions[CONTAINER_EXTENSION].job_queue()
    if isinstance(queue, InProcessJobQueue):
        if not queue.join(drain_seconds):
            log.warning("jobs left unfinished at shutdown; the outbox keeps them")
        queue.close(wait=False)
    log.info("background stopped")
