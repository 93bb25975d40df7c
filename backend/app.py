"""The Flask application factory: wires the inbound HTTP adapter to the container."""

from __future__ import annotations

from flask import Flask
from redis import Redis
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.adapters.inbound.http.api import register_api
from backend.adapters.inbound.http.api_services import ApiServices, EventServices
from backend.adapters.inbound.http.cors import install_cors
from backend.adapters.inbound.http.metrics import install_metrics
from backend.adapters.inbound.http.middleware import install_middleware
from backend.adapters.inbound.http.ops import ReadinessCheck, ops_blueprint
from backend.adapters.inbound.http.problems import register_problem_handlers
from backend.adapters.inbound.http.rate_limit import rate_limit_check
from backend.adapters.inbound.http.spa import spa_blueprint
from backend.adapters.inbound.ws.capacity import socket_capacity
from backend.adapters.inbound.ws.endpoint import WS_PATH, WsOptions, register_ws
from backend.adapters.outbound.metrics.prometheus import render
from backend.adapters.outbound.sqlalchemy.engine import ping_database
from backend.adapters.outbound.sqlalchemy.migrations_check import ensure_migrated
from backend.config import Settings
from backend.container import Container, build_container
from backend.logging_setup import configure_logging, get_logger

log = get_logger(__name__)

# Where the entry points (and tests) find the app's container; views get providers instead.
CONTAINER_EXTENSION = "hexbank.container"


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """A new app; settings come from the container, the argument or the environment."""
    if settings is None:
        settings = container.settings() if container is not None else Settings.from_env()
    container = container if container is not None else build_container(settings)
    _check_schema(container)
    configure_logging(settings.log_format, settings.log_level)
    app = Flask(__name__, static_folder=None)
    app.config["SECRET_KEY"] = settings.secret_key
    app.extensions[CONTAINER_EXTENSION] = container
    install_middleware(app, settings.max_body_bytes)
    if settings.proxy_hops:
        # The client's address and scheme as the proxies in front saw them (rate limits by
        # address would otherwise count every client as the proxy).
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    _install_metrics(app, container)
    install_cors(app, settings.cors_origins)
    register_problem_handlers(app)
    _register_blueprints(app, container, settings)
    return app


def _install_metrics(app: Flask, container: Container) -> None:
    metrics = container.metrics()
    install_metrics(app, metrics, lambda: render(metrics, container.metrics_collectors()), WS_PATH)


def _check_schema(container: Container) -> None:
    # Refuse to start on a missing or outdated schema, saying to run `hexbank migrate`. An
    # unreachable database is another matter: start anyway, /readyz reports it until it is back.
    try:
        ensure_migrated(container.engine())
    except OperationalError as error:
        log.warning("database unreachable at start; /readyz reports it", error=str(error.orig))


def _register_blueprints(app: Flask, container: Container, settings: Settings) -> None:
    # Each blueprint factory receives the providers it needs, so views never reach for globals.
    app.register_blueprint(ops_blueprint(_readiness_checks(container, settings)))
    services = _api_services(container, settings)
    register_api(app, services)
    register_ws(
        app,
        identity=lambda: container.identity_service(),
        channel=lambda: container.push_channel(),
        options=WsOptions(max_sockets=socket_capacity(settings.ws_sockets)),
        # A connect counts against HEXBANK_RATE_LIMIT like any request.
        admit=rate_limit_check(services.request_throttle, services.token_issuer, services.clock),
        gauge=container.metrics(),
    )
    # Last: the web app answers every path that no API or operations route claimed.
    app.register_blueprint(spa_blueprint())


def _api_services(container: Container, settings: Settings) -> ApiServices:
    # Lambdas resolve providers per request, so overrides (tests) and later-bound ones work.
    return ApiServices(
        settings=settings,
        identity=lambda: container.identity_service(),
        bus=lambda: container.command_bus(),
        account_queries=lambda: container.account_queries(),
        transfer_queries=lambda: container.transfer_queries(),
        transfer_admission=lambda: container.transfer_admission(),
        request_throttle=lambda: container.request_throttle(),
        token_issuer=lambda: container.token_issuer(),
        clock=lambda: container.clock(),
        events=EventServices(
            feed=lambda: container.events.feed_queries(),
            webhooks=lambda: container.events.webhook_queries(),
            url_policy=lambda: container.events.url_policy(),
            wake_deliveries=lambda: container.events.delivery_wakeup().wake(),
        ),
    )


def _readiness_checks(container: Container, settings: Settings) -> dict[str, ReadinessCheck]:
    checks: dict[str, ReadinessCheck] = {"database": lambda: ping_database(container.engine())}
    if settings.read_database_url is not None:
        checks["read_database"] = lambda: ping_database(container.read_engine())
    if settings.redis_url is not None:
        checks["redis"] = lambda: _ping_redis(container.redis_client())
    return checks


def _ping_redis(client: Redis | None) -> None:
    if client is None:
        raise RuntimeError("no Redis client configured")
    client.ping()
