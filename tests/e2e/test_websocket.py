"""`/api/v1/ws` on the production wiring, with real WebSocket clients.

In-process cases serve `create_server_app(settings)` (the embedded server app, background loops
and all) so that they can shorten the endpoint's timings; the others run real `hexbank serve`,
gunicorn and `hexbank worker` processes, embedded and distributed (PostgreSQL + Redis).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial

import pytest
import requests
from dependency_injector import providers
from websockets.sync.client import connect
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from backend.adapters.inbound.ws.endpoint import WS_PATH, with_options
from backend.config import Settings
from tests.e2e.push_stack import (
    LiveServer,
    accounts_in,
    authenticated,
    balance,
    close_code,
    close_code_after_sending,
    completed,
    deploy_config_server,
    deposit,
    in_parallel,
    log_in_again,
    log_out,
    next_event,
    receive,
    receive_until,
    ws_url,
)
from tests.fakes import FixedClock
from tests.live_stack import Client, Server, Stack, wait_for

pytestmark = pytest.mark.e2e

TRANSFER_FIELDS = {
    "id", "source_account_id", "target_account_id", "amount", "currency", "reference",
    "status", "failure_reason", "created_at", "updated_at", "completed_at",
}  # fmt: skip


@pytest.fixture
def start_app() -> Iterator[Callable[[Settings], LiveServer]]:
    """Starts in-process servers of `create_server_app`; stops them at the end of the test."""
    started: list[LiveServer] = []

    def start(settings: Settings) -> LiveServer:
        started.append(LiveServer(settings))
        return started[-1]

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def live(start_app: Callable[[Settings], LiveServer], settings: Settings) -> LiveServer:
    """Embedded mode: SQLite, in-process queue and push channel, all in this one process."""
    return start_app(settings)


# --- authentication ------------------------------------------------------------------------------


def test_a_bad_token_is_closed_with_4401(live: LiveServer) -> None:
    with connect(live.ws_url) as ws:
        ws.send(json.dumps({"type": "auth", "access_token": "forged.token.here"}))
        assert close_code(ws) == 4401


def test_no_auth_within_the_window_is_closed_with_4401(live: LiveServer) -> None:
    with_options(live.app, auth_timeout=0.2)
    with connect(live.ws_url) as ws:
        started = time.monotonic()
        assert close_code(ws) == 4401
        assert time.monotonic() - started < 2


def test_no_auth_is_closed_with_4401_at_five_seconds_by_default(live: LiveServer) -> None:
    with connect(live.ws_url) as ws:
        started = time.monotonic()
        assert close_code(ws, timeout=10) == 4401
        # The timer starts at the upgrade, just before `connect` returns; a busy loop may be late.
        assert 4.9 <= time.monotonic() - started <= 7


def test_a_first_message_other_than_auth_is_closed_with_4401(live: LiveServer) -> None:
    with connect(live.ws_url) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert close_code(ws) == 4401


def test_ready_then_ping_is_answered_with_pong(live: LiveServer) -> None:
    with authenticated(live.ws_url, live.api.register()) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws) == {"type": "pong"}


# --- pushes --------------------------------------------------------------------------------------


def test_both_users_of_a_transfer_get_its_updates_and_their_own_accounts(
    live: LiveServer,
) -> None:
    api = live.api
    alice, bob = api.register(), api.register()
    source, target = api.open_account(alice, deposit=1000), api.open_account(bob)
    with authenticated(live.ws_url, alice) as alice_ws, authenticated(live.ws_url, bob) as bob_ws:
        transfer_id = api.transfer(alice, source, target, 300)["id"]

        alice_seen = receive_until(alice_ws, completed(transfer_id), balance(source, 700))
        bob_seen = receive_until(bob_ws, completed(transfer_id), balance(target, 300))

    assert set(next(filter(completed(transfer_id), alice_seen))["data"]) == TRANSFER_FIELDS
    assert (accounts_in(alice_seen), accounts_in(bob_seen)) == ({source}, {target})


def test_an_account_push_carries_exactly_the_api_resource(live: LiveServer) -> None:
    alice = live.api.register()
    account_id = live.api.open_account(alice)
    with authenticated(live.ws_url, alice) as ws:
        deposit(live.api, alice, account_id, 250)
        pushed = receive_until(ws, balance(account_id, 250))[-1]

    assert pushed == {"type": "account.updated", "data": live.api.account(alice, account_id)}


def test_a_user_never_receives_another_users_data(live: LiveServer) -> None:
    api = live.api
    alice, bob, carol = api.register(), api.register(), api.register()
    source, target = api.open_account(alice, deposit=1000), api.open_account(bob)
    carols = api.open_account(carol)
    with authenticated(live.ws_url, carol) as carol_ws, authenticated(live.ws_url, bob) as bob_ws:
        transfer_id = api.transfer(alice, source, target, 300)["id"]
        receive_until(bob_ws, completed(transfer_id))
        # One fan-out thread delivers in publishing order: had anything of Alice's or Bob's
        # been sent to Carol, it would arrive before the push of her own later deposit.
        deposit(api, carol, carols, 5)
        carol_seen = receive_until(carol_ws, balance(carols, 5))

    assert {m["type"] for m in carol_seen} == {"account.updated"}
    assert accounts_in(carol_seen) == {carols}


# --- connection hygiene --------------------------------------------------------------------------


def test_a_ping_flood_is_cut_off_while_another_socket_keeps_its_pace(live: LiveServer) -> None:
    alice, mallory = live.api.register(), live.api.register()
    with authenticated(live.ws_url, alice) as calm, authenticated(live.ws_url, mallory) as flood:
        # far beyond the budget's burst (30), at once; the server may close while we still send
        assert close_code_after_sending(flood, json.dumps({"type": "ping"}), times=200) == 1008
        started = time.monotonic()
        calm.send(json.dumps({"type": "ping"}))
        assert receive(calm) == {"type": "pong"}
        assert time.monotonic() - started < 1


def test_pings_within_the_budget_are_all_answered(live: LiveServer) -> None:
    with authenticated(live.ws_url, live.api.register()) as ws:
        for _ in range(20):  # under the burst
            ws.send(json.dumps({"type": "ping"}))
        assert [receive(ws) for _ in range(20)] == [{"type": "pong"}] * 20


def test_a_message_over_the_size_limit_is_closed_with_1009(live: LiveServer) -> None:
    with authenticated(live.ws_url, live.api.register()) as ws:
        ws.send(json.dumps({"type": "ping", "padding": "x" * 5000}))
        assert close_code(ws) == 1009


def test_the_eleventh_socket_of_a_user_is_closed_with_1008(live: LiveServer) -> None:
    alice = live.api.register()
    with ExitStack() as open_sockets:
        for _ in range(10):
            open_sockets.enter_context(authenticated(live.ws_url, alice))
        with connect(live.ws_url) as extra:
            extra.send(json.dumps({"type": "auth", "access_token": alice.access_token}))
            assert close_code(extra) == 1008


def test_logout_ends_the_socket_at_the_next_check(live: LiveServer) -> None:
    with_options(live.app, ping_interval=0.3)
    alice = live.api.register()
    with authenticated(live.ws_url, alice) as ws:
        log_out(live.api, alice)
        assert close_code(ws) == 4401


def test_a_revoked_token_is_closed_on_the_next_push(live: LiveServer) -> None:
    alice = live.api.register()
    account_id = live.api.open_account(alice)
    with authenticated(live.ws_url, alice) as ws:
        log_out(live.api, alice)
        deposit(live.api, log_in_again(live.api, alice), account_id, 10)  # pushed to it
        assert close_code(ws) == 4401


def test_an_expired_token_ends_the_socket(live: LiveServer, settings: Settings) -> None:
    clock = FixedClock(datetime.now(UTC))
    live.container.clock.override(providers.Object(clock))  # before identity is built
    with_options(live.app, ping_interval=0.3)
    with authenticated(live.ws_url, live.api.register()) as ws:
        clock.advance(seconds=settings.access_token_ttl)
        assert close_code(ws) == 4401


def test_a_peer_that_never_answers_pings_is_closed(live: LiveServer) -> None:
    with_options(live.app, ping_interval=0.2)
    user = live.api.register()
    wire = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw:
        raw.sendall(wire.send(Request(host="127.0.0.1", target=WS_PATH)))
        assert isinstance(next_event(raw, wire), AcceptConnection)
        auth = {"type": "auth", "access_token": user.access_token}
        raw.sendall(wire.send(TextMessage(json.dumps(auth))))
        # Read on, never answering the server's pings, until it gives up on us.
        events = [next_event(raw, wire) for _ in range(3)]
    assert isinstance(events[0], TextMessage) and json.loads(events[0].data) == {"type": "ready"}
    assert any(isinstance(e, CloseConnection) and e.code == 1008 for e in events)


def test_a_thousand_connect_disconnect_cycles_leak_no_threads(live: LiveServer) -> None:
    user = live.api.register()
    for _ in range(5):  # warm up: the push channel's thread, pools
        with authenticated(live.ws_url, user):
            pass
    baseline = threading.active_count()

    for _ in range(1000):
        with authenticated(live.ws_url, user):
            pass

    def settled() -> bool:  # the last closes are handled by the socket loop, asynchronously
        return live.endpoint.open_sockets == 0 and live.endpoint.hub.connections() == 0

    wait_for(settled, 10, "every socket to be closed on the server")
    assert threading.active_count() <= baseline + 2


# --- real processes: sockets hold no HTTP thread ------------------------------------------------

# Two HTTP threads, and room for twelve sockets.
SMALL_SERVER = {"HEXBANK_THREADS": "2", "HEXBANK_WS_SOCKETS": "12"}


@pytest.fixture(params=["hexbank serve", "gunicorn -c deploy/gunicorn.conf.py"])
def small_server(request: pytest.FixtureRequest, embedded_stack: Stack) -> Server:
    """An embedded server process with two HTTP threads, started either way."""
    if request.param == "hexbank serve":
        return embedded_stack.serve(**SMALL_SERVER)
    return deploy_config_server(embedded_stack, **SMALL_SERVER)


def test_open_sockets_hold_no_http_thread_and_get_pushes(small_server: Server) -> None:
    api = Client(small_server.url)
    user = api.register()
    account_id = api.open_account(user)
    # The SPA's socket: same origin as the page that the same process serves.
    origin = {"origin": small_server.url}
    with ExitStack() as open_sockets:
        sockets = [
            open_sockets.enter_context(authenticated(ws_url(small_server.url), user, **origin))
            for _ in range(10)  # five times the HTTP threads
        ]
        waiting = [open_sockets.enter_context(connect(ws_url(small_server.url))) for _ in range(2)]
        assert api.expect(200, "GET", "/users/me", user)["email"] == user.email
        deposit(api, user, account_id, 42)
        assert all(receive_until(ws, balance(account_id, 42)) for ws in sockets)
        sockets[0].send(json.dumps({"type": "ping"}))
        # Concurrent jobs may push the same state twice: the pong may come after a repeat.
        assert receive_until(sockets[0], lambda m: m["type"] == "pong")
        # The process is full (12): one more upgrade is refused, HTTP still answers.
        full = requests.get(
            small_server.url + WS_PATH,
            headers={"Connection": "Upgrade", "Upgrade": "websocket",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                     "Sec-WebSocket-Version": "13"},
            timeout=5,
        )  # fmt: skip
        assert (full.status_code, full.json()["type"]) == (503, "/problems/service-unavailable")
        assert full.headers["Retry-After"]
        assert all(close_code(ws, timeout=10) == 4401 for ws in waiting)
    # The web app's catch-all route leaves the socket path alone, even without an Upgrade.
    plain = requests.get(small_server.url + WS_PATH, timeout=5)
    assert (plain.status_code, plain.headers["Content-Type"]) == (400, "application/problem+json")


# --- distributed: two web processes and a worker on PostgreSQL + Redis ----------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_pushes_from_the_worker_reach_each_user_on_their_own_web_process(
    distributed_stack: Stack,
) -> None:
    distributed_stack.worker()  # first: it starts up while the web processes do
    web1, web2 = in_parallel(*(partial(distributed_stack.serve, name) for name in ("web1", "web2")))
    api1, api2 = Client(web1.url), Client(web2.url)
    alice, bob, carol = in_parallel(*(Client(web2.url).register for _ in range(3)))
    source, target = api1.open_account(alice, deposit=1000), api2.open_account(bob)
    carols = api2.open_account(carol)
    with ExitStack() as sockets:
        alice_ws = sockets.enter_context(authenticated(ws_url(web1.url), alice))
        bob_ws = sockets.enter_context(authenticated(ws_url(web2.url), bob))
        carol_sockets = [
            sockets.enter_context(authenticated(ws_url(web.url), carol)) for web in (web1, web2)
        ]
        transfer_id = api1.transfer(alice, source, target, 300)["id"]
        alice_seen = receive_until(alice_ws, completed(transfer_id), balance(source, 700))
        bob_seen = receive_until(bob_ws, completed(transfer_id), balance(target, 300))
        # One worker publishes in order and each web process has one subscriber thread: had
        # Carol been sent anything of the transfer, it would come before her own deposit.
        deposit(api2, carol, carols, 5)
        carol_seen = [receive_until(ws, balance(carols, 5)) for ws in carol_sockets]

    in_parallel(*(process.stop for process in distributed_stack.processes))  # at once: quicker
    assert (accounts_in(alice_seen), accounts_in(bob_seen)) == ({source}, {target})
    for seen in carol_seen:
        assert {m["type"] for m in seen} == {"account.updated"}
        assert accounts_in(seen) == {carols}
