"""The push hub with fake sockets: who gets what, limits, and revoked tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from backend.adapters.inbound.ws.hub import UNAUTHORIZED, PushHub, SocketSession
from backend.application.ports.push import PushDelivery, PushMessage, StopListening


@dataclass
class FakeSocket:
    connected: bool = True
    sent: list[str] = field(default_factory=list)
    closed_with: int | None = None

    def send(self, data: str) -> None:
        if not self.connected:
            raise ConnectionError("closed")
        self.sent.append(data)

    def receive(self, timeout: float | None = None) -> str | None:
        return None

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        self.connected, self.closed_with = False, reason


@dataclass
class FakeChannel:
    listeners: list[PushDelivery] = field(default_factory=list)

    def publish(self, messages: Sequence[PushMessage]) -> None:
        raise NotImplementedError

    def listen(self, deliver: PushDelivery) -> StopListening:
        self.listeners.append(deliver)
        return lambda: self.listeners.remove(deliver)

    def close(self) -> None:
        pass


@dataclass
class Tokens:
    revoked: set[str] = field(default_factory=set)
    broken: bool = False

    def valid(self, token: str) -> bool:
        if self.broken:
            raise ConnectionError("denylist store is down")
        return token not in self.revoked


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def hub(channel: FakeChannel, tokens: Tokens) -> PushHub:
    return PushHub(lambda: channel, tokens.valid)


def connect(hub: PushHub, user: str, token: str = "tok-1") -> FakeSocket:  # noqa: S107
    ws = FakeSocket()
    assert hub.add(SocketSession(ws, user, token), max_per_user=10)
    return ws


def test_a_burst_reaches_each_users_sockets_in_order_and_no_one_elses(hub: PushHub) -> None:
    alice_1, alice_2, bob = connect(hub, "alice"), connect(hub, "alice"), connect(hub, "bob")

    hub.deliver([("alice", "a1"), ("carol", "c1"), ("alice", "a2"), ("bob", "b1")])

    assert alice_1.sent == alice_2.sent == ["a1", "a2"]
    assert bob.sent == ["b1"]


def test_the_hub_listens_once_from_its_first_socket(hub: PushHub, channel: FakeChannel) -> None:
    assert channel.listeners == []
    connect(hub, "alice")
    connect(hub, "bob")
    assert channel.listeners == [hub.deliver]


def test_sockets_beyond_the_per_user_limit_are_refused(hub: PushHub) -> None:
    sessions = [SocketSession(FakeSocket(), "alice", "t") for _ in range(3)]
    assert [hub.add(session, max_per_user=2) for session in sessions] == [True, True, False]
    hub.remove(sessions[0])
    assert hub.add(sessions[2], max_per_user=2)


def test_a_revoked_token_is_closed_with_4401_instead_of_pushed(
    hub: PushHub, tokens: Tokens
) -> None:
    revoked, fine = connect(hub, "alice", "old"), connect(hub, "alice", "new")
    tokens.revoked.add("old")

    hub.deliver([("alice", "a1")])

    assert (revoked.sent, revoked.closed_with) == ([], UNAUTHORIZED)
    assert fine.sent == ["a1"]


def test_a_failing_token_check_skips_the_push_but_keeps_the_socket(
    hub: PushHub, tokens: Tokens
) -> None:
    ws = connect(hub, "alice")
    tokens.broken = True

    hub.deliver([("alice", "a1")])

    assert ws.sent == [] and ws.connected


def test_a_socket_that_went_away_does_not_stop_delivery_to_the_others(hub: PushHub) -> None:
    gone, staying = connect(hub, "alice"), connect(hub, "alice")
    gone.connected = False

    hub.deliver([("alice", "a1")])

    assert staying.sent == ["a1"]


def test_closing_the_hub_closes_every_socket_and_stops_listening(
    hub: PushHub, channel: FakeChannel
) -> None:
    sockets = [connect(hub, "alice"), connect(hub, "bob")]

    hub.close()

    assert all(not ws.connected for ws in sockets)
    assert channel.listeners == []
