"""Graceful shutdown of a real `hexbank serve`: SIGTERM mid-burst loses no accepted request,
and open WebSockets are closed with 1001 at once instead of holding the stop for its timeout."""

from __future__ import annotations

import itertools
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests
from websockets.exceptions import ConnectionClosed

from tests.live_stack import Client, Server, Stack, User, wait_for
from tests.ops.live import authenticated_socket, json_lines

pytestmark = pytest.mark.e2e

CLIENTS = 6
#: Answers to collect before the SIGTERM: the burst is well under way by then.
ANSWERED_BEFORE_STOP = 30


@dataclass
class Burst:
    """Deposits sent from several threads until the server stops answering."""

    server: Server
    user: User
    account_id: str
    answered: dict[str, tuple[int, int, str | None]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    amounts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> None:
        session = requests.Session()  # keep-alive, as a browser or a proxy would
        while self.server.running and len(self.failed) < 200:
            self.send(session)

    def send(self, session: requests.Session) -> None:
        request_id, amount = uuid.uuid4().hex, next(self.amounts)
        url = f"{self.server.url}/api/v1/accounts/{self.account_id}/deposits"
        headers = {**self.user.auth, "X-Request-ID": request_id}
        try:
            response = session.post(url, json={"amount": amount}, headers=headers, timeout=20)
        except requests.ConnectionError as error:
            with self.lock:
                self.failed[request_id] = repr(error)
            time.sleep(0.01)  # the server is going away: do not spin
            return
        body = response.json() if response.status_code == 201 else {}
        with self.lock:
            self.answered[request_id] = (response.status_code, amount, body.get("id"))


def test_sigterm_during_a_burst_of_deposits_loses_no_accepted_request(
    embedded_stack: Stack,
) -> None:
    server = embedded_stack.serve()
    api = Client(server.url)
    user = api.register()
    burst = Burst(server, user, api.open_account(user))
    threads = [threading.Thread(target=burst.client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(burst.answered) >= ANSWERED_BEFORE_STOP, 30, "the burst to get going")
    server.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert server.popen.wait(15) == 0  # type: ignore[union-attr]
    for thread in threads:
        thread.join(30)

    statuses = {status for status, _amount, _id in burst.answered.values()}
    assert statuses == {201}, statuses  # no 5xx: every request let in was served
    reached_app = {
        str(line["request_id"]) for line in json_lines(server.log()) if "request_id" in line
    }
    reset_after_accepted = reached_app & burst.failed.keys()
    assert not reset_after_accepted, [burst.failed[r] for r in reset_after_accepted]
    # A new server on the same data reads exactly the deposits that were answered 201.
    restarted = Client(embedded_stack.serve("web-restarted").url)
    deposits = {tx["id"]: tx["amount"] for tx in restarted.transactions(user, burst.account_id)}
    answered = {tx_id: amount for _status, amount, tx_id in burst.answered.values()}
    assert deposits == answered
    assert restarted.account(user, burst.account_id)["balance"] == sum(answered.values())


def test_sigterm_closes_open_websockets_with_going_away_and_exits_promptly(
    embedded_stack: Stack,
) -> None:
    server = embedded_stack.serve()
    user = Client(server.url).register()
    with authenticated_socket(server.url, user) as ws:
        started = time.monotonic()
        server.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        # Left open, the socket would hold the worker for the 5 s graceful timeout and then
        # drop without a close frame when the master kills it.
        assert time.monotonic() - started < 3
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.popen.wait(15) == 0  # type: ignore[union-attr]
