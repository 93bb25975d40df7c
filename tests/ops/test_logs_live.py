"""JSON logs of a real distributed deployment: a transfer is followed by its id from the web
process to the worker, and no password, token or key ever reaches a log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.live_stack import PASSWORD, Client, Stack, User, wait_for
from tests.ops.live import authenticated_socket, json_lines, stop_together

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def lines_of(lines: list[dict[str, Any]], correlation_id: str) -> list[dict[str, Any]]:
    """The lines of one transfer: its own, and the engine rounds that ran it among others."""
    return [
        line
        for line in lines
        if correlation_id in (line.get("correlation_id"), *line.get("correlation_ids", ()))
    ]


def test_a_transfer_is_traced_by_its_id_through_web_and_worker_logs_without_secrets(
    distributed_stack: Stack,
) -> None:
    web, worker = distributed_stack.serve(), distributed_stack.worker()
    api = Client(web.url)
    user = api.register()
    source, target = api.open_account(user, deposit=500), api.open_account(user)
    with authenticated_socket(web.url, user):
        transfer_id = api.transfer(user, source, target, 200)["id"]
        assert api.wait_terminal(user, transfer_id)["status"] == "completed"
    refreshed = api.expect(200, "POST", "/auth/refresh", json={"refresh_token": user.refresh_token})
    renewed = User(user.email, refreshed["access_token"], refreshed["refresh_token"])
    api.expect(200, "GET", "/users/me", renewed)

    def worker_logged_the_end() -> bool:
        steps = lines_of(json_lines(worker.log()), transfer_id)
        return any("TransferCompleted" in line.get("events", ()) for line in steps)

    wait_for(worker_logged_the_end, 10, "the worker to log the transfer's last step")
    web_lines = json_lines(web.log())
    accepted = lines_of(web_lines, transfer_id)
    assert accepted and accepted[0]["command"] == "RequestTransfer"
    assert accepted[0]["user_id"] and accepted[0]["request_id"] and accepted[0]["positions"]
    requests = [line for line in web_lines if line.get("event") == "request"]
    assert all(line["request_id"] for line in requests)
    assert any(line.get("user_id") == accepted[0]["user_id"] for line in requests)
    steps = lines_of(json_lines(worker.log()), transfer_id)
    # The engine's round ran the whole saga: its line names the command by type, the events
    # and their positions.
    assert {s.get("command") for s in steps if s.get("events")} == {"AdvanceTransfers"}
    logged = [event for step in steps for event in step.get("events", [])]
    assert {"FundsHeld", "MoneyCredited", "HoldCaptured", "TransferCompleted"} <= set(logged)
    assert all(all(isinstance(p, int) for p in step["positions"]) for step in steps)

    stop_together(distributed_stack)  # and their last lines are in the logs too
    logs = distributed_stack.logs()
    secrets = {
        "password": PASSWORD,
        "secret key": TEST_SECRET_KEY,
        "access token": user.access_token,
        "refresh token": user.refresh_token,
        "renewed refresh token": renewed.refresh_token,
    }
    assert [name for name, secret in secrets.items() if secret in logs] == []
