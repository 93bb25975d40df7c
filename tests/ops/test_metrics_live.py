"""`/metrics` of a real `hexbank serve` (gunicorn, multiprocess mode) after real transfers."""

from __future__ import annotations

import pytest

from tests.live_stack import Client, Stack, wait_for
from tests.ops.live import authenticated_socket, scrape, value

pytestmark = pytest.mark.e2e


def test_metrics_show_every_named_series_after_transfers(embedded_stack: Stack) -> None:
    server = embedded_stack.serve()
    api = Client(server.url)
    user = api.register()
    source, target = api.open_account(user, deposit=1000), api.open_account(user)
    completed = api.transfer(user, source, target, 300)["id"]
    failed = api.transfer(user, source, target, 10**9)["id"]
    assert api.wait_terminal(user, completed)["status"] == "completed"
    assert api.wait_terminal(user, failed)["failure_reason"] == "insufficient_funds"

    def both_counted() -> bool:
        seen = scrape(server.url)
        done = value(seen, "hexbank_transfers_finished_total", status="completed", reason="none")
        timed = value(seen, "hexbank_transfer_duration_seconds_count", status="failed")
        return done == timed == 1

    wait_for(both_counted, 10, "the follower to count both transfers")
    with authenticated_socket(server.url, user):
        seen = scrape(server.url)

    transfers, commands = "/api/v1/transfers", "hexbank_commands_total"
    accepted = {"method": "POST", "route": transfers, "status": "202"}
    assert value(seen, "hexbank_http_requests_total", **accepted) == 2
    deposits = "/api/v1/accounts/<account_id>/deposits"
    bucket = {"method": "POST", "route": deposits, "status": "201", "le": "+Inf"}
    assert value(seen, "hexbank_http_request_duration_seconds_bucket", **bucket) == 1
    assert not any(source in str(labels) for _name, labels in seen), "raw paths as labels"
    assert value(seen, commands, type="RequestTransfer", outcome="committed") == 2
    # The engine's rounds ran both sagas, whichever way each ended.
    assert (value(seen, commands, type="AdvanceTransfers", outcome="committed") or 0) >= 1
    reason = {"status": "failed", "reason": "insufficient_funds"}
    assert value(seen, "hexbank_transfers_finished_total", **reason) == 1
    assert value(seen, "hexbank_transfer_duration_seconds_count", status="completed") == 1
    assert value(seen, "hexbank_websocket_connections") == 1
    assert value(seen, "hexbank_job_queue_depth") is not None
    assert value(seen, "hexbank_jobs_failed") == 0
    for projection in ("accounts", "transfers"):
        assert value(seen, "hexbank_projection_lag_events", projection=projection) is not None

    def socket_uncounted() -> bool:
        return value(scrape(server.url), "hexbank_websocket_connections") == 0

    wait_for(socket_uncounted, 10, "the closed socket to be uncounted")
    # gunicorn's workers count into files that `hexbank serve` keeps under the data dir.
    assert list((embedded_stack.directory / "var" / "prometheus" / str(server.port)).glob("*.db"))
