"""Metrics without a server: the CommandBus's observers, transfer outcomes counted once, the
Prometheus adapter, the HTTP hooks and /metrics, scrape-time gauges, multiprocess mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.metrics_core import Metric

from backend.adapters.outbound.metrics.collectors import ScrapeTimeCollector
from backend.adapters.outbound.metrics.prometheus import PrometheusMetrics, render
from backend.app import create_app
from backend.application.accounts import deposit, open_account
from backend.application.commands import Deposit, OpenAccount
from backend.application.errors import ConcurrencyError
from backend.application.ports.event_store import EventMetadata
from backend.application.ports.metrics import (
    COMMITTED,
    CONFLICT,
    ERROR,
    REJECTED,
    UNCHANGED,
    FinishedCommand,
)
from backend.application.transfer_engine import NO_REASON
from backend.config import Settings
from tests.api.conftest import js
from tests.application.saga_harness import Bank
from tests.conftest import SettingsFactory
from tests.fakes import BusRunner, InMemoryApp, InTransaction
from tests.ops.live import samples_of, value

META = EventMetadata(correlation_id="c-1", user_id="u-1")


def observed_runner(app: InMemoryApp) -> tuple[list[FinishedCommand], BusRunner]:
    reports: list[FinishedCommand] = []
    return reports, app.runner(observers=(reports.append,))


# --- the CommandBus's observers --------------------------------------------------------------


def test_the_bus_reports_each_command_with_its_type_outcome_and_events() -> None:
    reports, runner = observed_runner(InMemoryApp())
    account = runner.bus.execute(OpenAccount("u-1", "Main", "EUR"), META)
    runner.run(lambda ctx: None, META)

    opened, nothing = reports
    assert (opened.command_type, opened.outcome) == ("OpenAccount", COMMITTED)
    assert [e.stream_id for e in opened.events] == [account.id] and opened.seconds >= 0
    assert (nothing.command_type, nothing.outcome, nothing.events) == (
        InTransaction.__name__,
        UNCHANGED,
        (),
    )


def test_refused_conflicting_and_crashing_commands_are_reported_and_still_raise() -> None:
    reports, runner = observed_runner(InMemoryApp())
    account = runner.run(lambda ctx: open_account(OpenAccount("u-1", "A", "EUR"), ctx), META)

    def conflict(_ctx: object) -> None:
        raise ConcurrencyError("moved")

    def crash(_ctx: object) -> None:
        raise RuntimeError("bug")

    for handler in (
        lambda ctx: deposit(Deposit("u-1", account.id, -5), ctx),  # InvalidAmount
        lambda ctx: deposit(Deposit("someone-else", account.id, 5), ctx),  # NotFound
        conflict,
        crash,
    ):
        try:
            runner.run(handler, META)
        except Exception:  # noqa: S112 - each must raise; the report is what is checked
            continue
        raise AssertionError("the command should have raised")

    assert [r.outcome for r in reports[1:]] == [REJECTED, REJECTED, CONFLICT, ERROR]


def test_a_failing_observer_never_fails_the_command() -> None:
    def broken(_finished: FinishedCommand) -> None:
        raise RuntimeError("metrics backend down")

    runner = InMemoryApp().runner(observers=(broken,))
    account = runner.run(lambda ctx: open_account(OpenAccount("u-1", "A", "EUR"), ctx), META)
    assert account.currency == "EUR"


# --- transfer outcomes, counted by the engine run that ends them ------------------------------


def test_a_transfer_end_is_counted_once_with_its_reason_and_duration() -> None:
    bank = Bank()
    metrics = PrometheusMetrics()
    bank.engine.metrics = metrics
    failing = bank.transfer(bank.open(10), bank.open(), 30)
    completing = bank.transfer(bank.open(100), bank.open(), 30)
    bank.app.clock.advance(seconds=0.5)
    bank.run_until_quiet()
    bank.engine.drive(failing)  # run again: nothing ends twice
    bank.engine.drive(completing)

    seen = samples_of(render(metrics, [])[0].decode())
    name = "hexbank_transfers_finished_total"
    assert value(seen, name, status="failed", reason="insufficient_funds") == 1
    assert value(seen, name, status="completed", reason=NO_REASON) == 1
    assert value(seen, "hexbank_transfer_duration_seconds_sum", status="failed") == 0.5
    assert value(seen, "hexbank_transfer_duration_seconds_count", status="completed") == 1


# --- HTTP hooks and /metrics -------------------------------------------------------------------


def test_requests_are_labelled_by_route_template_never_by_raw_path(
    make_settings: SettingsFactory,
) -> None:
    client = create_app(make_settings()).test_client()
    client.get("/api/v1/accounts/0b7c3f0e-raw-id")  # 401, but routed
    client.get("/api/v1/no-such-thing")
    client.get("/healthz")

    response = client.get("/metrics")
    seen = samples_of(response.get_data(as_text=True))
    requests = "hexbank_http_requests_total"
    assert response.status_code == 200 and response.mimetype == "text/plain"
    route = "/api/v1/accounts/<account_id>"
    assert value(seen, requests, method="GET", route=route, status="401") == 1
    assert value(seen, requests, method="GET", route="<unmatched>", status="404") == 1
    assert value(seen, requests, method="GET", route="/healthz", status="200") == 1
    assert not any("raw-id" in str(labels) for _name, labels in seen)
    assert value(seen, "hexbank_websocket_connections") == 0
    assert value(seen, "hexbank_job_queue_depth") == 0


def test_http_commands_are_named_after_their_command_type(make_settings: SettingsFactory) -> None:
    client = create_app(make_settings()).test_client()
    body = {"email": "ops@example.com", "password": "correct horse battery"}
    client.post("/api/v1/users", json=body | {"name": "O"})
    token = js(client.post("/api/v1/auth/token", json=body))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/accounts", json={"name": "A", "currency": "EUR"}, headers=auth)

    seen = samples_of(client.get("/metrics").get_data(as_text=True))
    commands = "hexbank_commands_total"
    assert value(seen, commands, type="OpenAccount", outcome=COMMITTED) == 1


class Broken:
    def __call__(self) -> Iterable[Metric]:
        raise ConnectionError("database down")


def test_an_unreadable_gauge_source_is_reported_without_failing_the_scrape() -> None:
    collector = ScrapeTimeCollector({"projections": Broken()})
    body, _content_type = render(PrometheusMetrics(), [collector])
    seen = samples_of(body.decode())
    assert value(seen, "hexbank_collector_up", collector="projections") == 0


# --- multiprocess mode (in a subprocess: it switches prometheus_client globally) --------------

MULTIPROCESS_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from backend.entrypoints.cli.serve import prepare_metrics_dir
    from backend.adapters.outbound.metrics.prometheus import PrometheusMetrics, render
    from backend.config import Settings

    settings = Settings.from_env({"HEXBANK_DATA_DIR": sys.argv[1], "HEXBANK_SECRET_KEY": "k" * 40,
                                  "HEXBANK_PORT": "8123"})
    path = prepare_metrics_dir(settings)
    stale = path / "counter_99999.db"
    stale.write_bytes(b"left by a previous run")
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]  # a new `hexbank serve`, as started by hand
    path = prepare_metrics_dir(settings)  # its own directory is emptied
    print("stale kept" if stale.exists() else "stale removed", path)
    for _ in range(2):
        if os.fork() == 0:  # two "gunicorn workers" counting into their own files
            PrometheusMetrics().command_finished("deposit", "committed", 0.01)
            os._exit(0)
        os.wait()
    print(render(PrometheusMetrics(), [])[0].decode())
    """
)


def test_serve_counts_across_worker_processes_in_a_fresh_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True, env={"PYTHONPATH": "."},
    )  # fmt: skip
    first, rest = result.stdout.split("\n", 1)
    assert first == f"stale removed {tmp_path / 'prometheus' / '8123'}"
    seen = samples_of(rest)
    assert value(seen, "hexbank_commands_total", type="deposit", outcome="committed") == 2


def test_settings_accept_a_metrics_port_for_workers(make_settings: SettingsFactory) -> None:
    settings: Settings = make_settings(HEXBANK_METRICS_PORT="9100")
    assert settings.metrics_port == 9100 and make_settings().metrics_port is None
