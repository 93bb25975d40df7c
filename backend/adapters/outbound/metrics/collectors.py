"""Gauges computed at scrape time: job queue depth, failed jobs, projection lag.

They describe shared state (Redis, the database), so any process may report them; reading
them on each scrape keeps them exact without a background thread. A source that cannot be
read (the database is down) leaves its gauges out and reports `hexbank_collector_up 0`
instead of failing the whole scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.rq_queue import RqJobQueue
from backend.application.ports.job_queue import JobQueue
from backend.application.projections.runner import ProjectionRunner
from backend.logging_setup import get_logger

log = get_logger(__name__)

#: Reads one source's gauges; may raise when the source is unreachable.
Probe = Callable[[], Iterable[Metric]]
#: Enough to count every failed job an in-process queue keeps.
_ALL_FAILED: Final = 1_000_000


class ScrapeTimeCollector(Collector):
    """Runs each probe on every scrape; a failing probe is reported, not raised."""

    def __init__(self, probes: Mapping[str, Probe]) -> None:
        self._probes = probes

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "hexbank_collector_up",
            "1 when the scrape-time gauges of a source could be read, else 0.",
            labels=["collector"],
        )
        for name, probe in self._probes.items():
            try:
                metrics, readable = list(probe()), 1
            except Exception as error:
                log.warning("metrics source unreadable", collector=name, error=repr(error))
                metrics, readable = [], 0
            yield from metrics
            up.add_metric([name], readable)
        yield up


def queue_depth(queue: JobQueue) -> tuple[int, int]:
    """(jobs waiting, jobs failed for good) of the queue."""
    if isinstance(queue, RqJobQueue):
        failed = queue.queue.failed_job_registry.get_job_count(cleanup=False)
        return queue.queue.count, failed
    if isinstance(queue, InProcessJobQueue):
        # Queued, running or waiting to retry: the jobs a shutdown now would lose.
        return queue._unfinished, len(queue.failed_jobs(_ALL_FAILED))
    return 0, len(queue.failed_jobs(_ALL_FAILED))


def queue_probe(queue: Callable[[], JobQueue]) -> Probe:
    def probe() -> Iterable[Metric]:
        waiting, failed = queue_depth(queue())
        yield GaugeMetricFamily(
            "hexbank_job_queue_depth", "Jobs (event batches) waiting to run.", value=waiting
        )
        yield GaugeMetricFamily(
            "hexbank_jobs_failed", "Jobs that ran out of retries and are kept.", value=failed
        )

    return probe


def projection_lag_probe(runner: Callable[[], ProjectionRunner]) -> Probe:
    def probe() -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "hexbank_projection_lag_events",
            "Events in the log that a projection has not applied yet.",
            labels=["projection"],
        )
        for name, lag in sorted(runner().lag().items()):
            gauge.add_metric([name], lag)
        yield gauge

    return probe


def scrape_collectors(
    queue: Callable[[], JobQueue], projections: Callable[[], ProjectionRunner]
) -> list[Collector]:
    """The scrape-time gauges of a hexbank process (sources resolved on each scrape)."""
    probes = {"job_queue": queue_probe(queue), "projections": projection_lag_probe(projections)}
    return [ScrapeTimeCollector(probes)]
