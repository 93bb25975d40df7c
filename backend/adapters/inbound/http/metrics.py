"""`GET /metrics` and the request hooks behind the HTTP and WebSocket series.

Requests are labelled by route template (`/api/v1/accounts/<account_id>`), never by raw path:
one series per account id would swamp Prometheus. A WebSocket is counted as an open
connection for its whole life, not as one very slow request.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextvars import Token
from typing import Final, Protocol

from flask import Flask, Response, g, request

from backend.application.command_names import name_commands, unname_commands

METRICS_PATH: Final = "/metrics"
#: The route label of a request that matched no route (404s, 405s of unknown paths).
UNMATCHED: Final = "<unmatched>"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Endpoint names start with their blueprint's; this one adds nothing to a command's name.
_API_PREFIX: Final = "api_v1."

#: The body and content type of one scrape.
Exposition = Callable[[], tuple[bytes, str]]


class HttpMetrics(Protocol):
    """What the hooks record (the Prometheus adapter implements it)."""

    def request_answered(self, method: str, route: str, status: int, seconds: float) -> None: ...


def install_metrics(
    app: Flask, metrics: HttpMetrics, exposition: Exposition, websocket_route: str
) -> None:
    """Add `/metrics` and the hooks; call after the request-id middleware is installed."""
    hooks = _Hooks(metrics, websocket_route)
    app.before_request(hooks.start)
    app.after_request(hooks.record)
    app.teardown_request(hooks.end)

    def metrics_view() -> Response:
        body, content_type = exposition()
        return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})

    app.add_url_rule(METRICS_PATH, "metrics", metrics_view, methods=["GET"])


def route_of() -> str:
    """The matched route's template, or UNMATCHED."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


class _Hooks:
    """before/after/teardown hooks sharing the metrics and the WebSocket route."""

    def __init__(self, metrics: HttpMetrics, websocket_route: str) -> None:
        self._metrics = metrics
        self._websocket_route = websocket_route

    def start(self) -> None:
        g.metrics_started = time.perf_counter()
        endpoint = request.endpoint or "unmatched"
        g.metrics_command_token = name_commands(endpoint.removeprefix(_API_PREFIX))
        # An upgrade is not an HTTP request to time; the socket loop counts open sockets.
        g.metrics_websocket = route_of() == self._websocket_route

    def record(self, response: Response) -> Response:
        # The middleware's clock when an earlier hook refused the request (e.g. 413).
        started = g.get("metrics_started") or g.get("request_started")
        if started is not None and not g.get("metrics_websocket"):
            method = request.method if request.method in _METHODS else "other"
            seconds = time.perf_counter() - started
            self._metrics.request_answered(method, route_of(), response.status_code, seconds)
        return response

    def end(self, _error: BaseException | None) -> None:
        token: Token[str] | None = g.pop("metrics_command_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):  # a server that tore down in another context
                unname_commands(token)
