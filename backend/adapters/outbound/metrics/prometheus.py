"""The Prometheus adapter of the metrics port, plus the HTTP and WebSocket series, and the
exposition (single-process, or gunicorn's multiprocess mode).

Multiprocess mode: gunicorn runs several worker processes, each counting into its own files
under PROMETHEUS_MULTIPROC_DIR; a scrape of any worker merges them all. The directory must be
set before the first metric is created, must be emptied when the server (re)starts, and a dead
worker's live gauges must be dropped (`mark_process_dead`, from gunicorn's child_exit hook).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds: from a cache hit to a slow transaction.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Seconds from a transfer's request to its end: tens of ms normally, up to its timeout.
TRANSFER_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class PrometheusMetrics:
    """Every series hexbank records itself, in a registry of its own (one per container)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "hexbank_http_requests", "HTTP requests answered, by route template and status.",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.http_latency = Histogram(
            "hexbank_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.commands = Counter(
            "hexbank_commands", "Commands run, by type and outcome.",
            ["type", "outcome"], registry=r,
        )  # fmt: skip
        self.command_latency = Histogram(
            "hexbank_command_duration_seconds", "Time to run a command (all retries).",
            ["type"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.transfers = Counter(
            "hexbank_transfers_finished", "Transfers that ended, by status and failure reason.",
            ["status", "reason"], registry=r,
        )  # fmt: skip
        self.transfer_latency = Histogram(
            "hexbank_transfer_duration_seconds", "Time from a transfer's request to its end.",
            ["status"], buckets=TRANSFER_BUCKETS, registry=r,
        )  # fmt: skip
        self.websockets = Gauge(
            "hexbank_websocket_connections", "Open WebSocket connections.",
            registry=r, multiprocess_mode="livesum",
        )  # fmt: skip

    # -- the application's port (backend.application.ports.metrics.Metrics) ------------------

    def command_finished(self, command_type: str, outcome: str, seconds: float) -> None:
        self.commands.labels(command_type, outcome).inc()
        self.command_latency.labels(command_type).observe(seconds)

    def transfer_finished(self, status: str, reason: str, seconds: float) -> None:
        self.transfers.labels(status, reason).inc()
        self.transfer_latency.labels(status).observe(seconds)

    # -- the inbound HTTP and WebSocket adapters ----------------------------------------------

    def request_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route, str(status)).observe(seconds)

    def websocket_opened(self) -> None:
        self.websockets.inc()

    def websocket_closed(self) -> None:
        self.websockets.dec()


# -- exposition -------------------------------------------------------------------------------


def multiprocess_dir() -> Path | None:
    """The multiprocess directory of this process, if multiprocess mode is on."""
    path = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(path) if path else None


def use_multiprocess_dir(path: Path, clean: bool) -> Path:
    """Turn multiprocess mode on for this process and the workers it forks.

    Call before any metric is created (in gunicorn's master). `clean` empties the directory:
    files of a previous run would otherwise be merged into this run's counters.
    """
    if clean and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    # prometheus_client picks its value class when first imported, which may have been before
    # the variable was set (our CLI imports the app, hence prometheus_client, at start-up).
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    return path


def mark_process_dead(pid: int) -> None:
    """Forget a dead worker's live gauges (open sockets); its counters stay counted."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


class _Combined(Collector):
    """A collector made of others; each scrape asks them afresh."""

    def __init__(self, collectors: Sequence[Collector | CollectorRegistry]) -> None:
        self._collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


def exposition_registry(
    metrics: PrometheusMetrics, extra: Sequence[Collector]
) -> CollectorRegistry:
    """What a scrape shows: this process's series (or every process's, in multiprocess mode)
    and the scrape-time gauges in `extra`."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path is not None:
        multiprocess.MultiProcessCollector(registry, str(path))  # type: ignore[no-untyped-call]
    else:
        registry.register(_Combined([metrics.registry]))
    registry.register(_Combined(extra))
    return registry


def render(metrics: PrometheusMetrics, extra: Sequence[Collector]) -> tuple[bytes, str]:
    """The body and content type of a scrape."""
    return generate_latest(exposition_registry(metrics, extra)), CONTENT_TYPE_LATEST


def serve_metrics(
    host: str, port: int, metrics: PrometheusMetrics, extra: Sequence[Collector]
) -> threading.Thread:
    """Serve `/metrics` on its own port from a daemon thread (`hexbank worker` has no app)."""
    registry = exposition_registry(metrics, extra)
    _server, thread = start_http_server(port, host, registry=registry)
    return thread
