"""The webhook transport against a real local receiver: signed requests, the address checked
at every send (SSRF), the connection pinned to that address, failures as results."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from backend.adapters.outbound.webhooks.http_transport import HttpWebhookTransport
from backend.application.webhooks import UrlPolicy, new_secret
from tests.webhook_receiver import Receiver, free_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def _resolving_to(address: str) -> Any:
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


def _port(receiver: Receiver) -> int:
    return int(receiver.url.split(":")[2].split("/")[0])


def test_a_post_is_signed_and_kept_alive_for_the_next(receiver: Receiver) -> None:
    secret, transport = new_secret(), HttpWebhookTransport(UrlPolicy(production=False))
    for n in range(3):
        result = transport.post(receiver.url, secret, f"msg-{n}", f'{{"n":{n}}}', 5.0)
        assert result.ok and result.status_code == 200

    received = receiver.wait_for(3)
    assert [Webhook(secret).verify(r.body, r.headers) for r in received] == [
        {"n": 0}, {"n": 1}, {"n": 2},
    ]  # fmt: skip
    assert [r.headers["webhook-id"] for r in received] == ["msg-0", "msg-1", "msg-2"]


def test_the_host_is_resolved_and_checked_at_every_send(receiver: Receiver) -> None:
    url = f"https://hooks.example:{_port(receiver)}/in"
    production = HttpWebhookTransport(UrlPolicy(production=True), _resolving_to("127.0.0.1"))

    result = production.post(url, new_secret(), "msg", "{}", 5.0)

    assert result.status_code is None and result.error is not None
    assert result.error.startswith("refused")
    assert receiver.received == []


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(
    receiver: Receiver,
) -> None:
    url = f"http://hooks.example:{_port(receiver)}/in"
    transport = HttpWebhookTransport(UrlPolicy(production=False), _resolving_to("127.0.0.1"))

    assert transport.post(url, new_secret(), "msg", "{}", 5.0).ok
    (request,) = receiver.wait_for(1)
    assert request.headers["host"] == f"hooks.example:{_port(receiver)}"


def test_failures_are_results_not_exceptions(receiver: Receiver) -> None:
    transport = HttpWebhookTransport(UrlPolicy(production=False))
    receiver.script = [503, "slow"]

    assert transport.post(receiver.url, new_secret(), "a", "{}", 5.0).status_code == 503
    timed_out = transport.post(receiver.url, new_secret(), "b", "{}", 0.3)
    assert (timed_out.status_code, timed_out.error) == (None, "timed out")
    refused = transport.post(f"http://127.0.0.1:{free_port()}/x", new_secret(), "c", "{}", 1.0)
    assert (refused.status_code, refused.error) == (None, "connection refused")
    assert transport.post(receiver.url, new_secret(), "d", "{}", 5.0).ok
