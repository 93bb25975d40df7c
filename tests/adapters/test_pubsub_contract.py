"""The PushChannel contract, run against the in-memory and the Redis channel.

A "process" here is one channel instance: in distributed mode each web process builds its own
RedisPushChannel, and a worker publishes through yet another one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import pytest
import redis

from backend.adapters.outbound.memory.pubsub import InMemoryPushChannel
from backend.adapters.outbound.redis.pubsub import RedisPushChannel
from backend.application.ports.push import ACCOUNT_UPDATED, PushChannel, PushMessage
from backend.application.queries import AccountView

#: Builds the channel of one process; all built by one factory share one bus.
ChannelFactory = Callable[[], PushChannel]
AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def encode(message: PushMessage) -> str:
    assert isinstance(message.resource, AccountView)
    return f"{message.type}:{message.resource.id}:{message.resource.version}"


def update(user_id: str, account_id: str = "acc-1", version: int = 1) -> PushMessage:
    view = AccountView(account_id, user_id, "Main", "EUR", 0, 0, "open", version, AT, AT)
    return PushMessage(user_id, ACCOUNT_UPDATED, view)


class Inbox:
    """A delivery target that records (user, text) and lets a test wait for them."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def __call__(self, burst: Sequence[tuple[str, str]]) -> None:
        with self._changed:
            self.received.extend(burst)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, str]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


@pytest.fixture(params=["memory", "redis"])
def make_channel(request: pytest.FixtureRequest) -> Iterator[ChannelFactory]:
    built: list[PushChannel] = []
    if request.param == "memory":
        # One process: every "process" of the in-memory channel is the same channel.
        shared = InMemoryPushChannel(encode)
        built.append(shared)
        yield lambda: shared
    else:
        url: str = request.getfixturevalue("redis_url")
        prefix: str = request.getfixturevalue("redis_prefix")

        def build() -> PushChannel:
            channel = RedisPushChannel(redis.Redis.from_url(url), encode, prefix=prefix)
            built.append(channel)
            return channel

        yield build
    for channel in built:
        channel.close()


def test_a_published_message_reaches_a_listener_with_its_user(
    make_channel: ChannelFactory,
) -> None:
    inbox = Inbox()
    make_channel().listen(inbox)

    make_channel().publish([update("alice", "acc-9", 3)])

    assert inbox.wait_for(1) == [("alice", f"{ACCOUNT_UPDATED}:acc-9:3")]


def test_every_listening_process_receives_each_message(make_channel: ChannelFactory) -> None:
    web_a, web_b, worker = make_channel(), make_channel(), make_channel()
    inbox_a, inbox_b = Inbox(), Inbox()
    web_a.listen(inbox_a)
    web_b.listen(inbox_b)

    worker.publish([update("alice"), update("bob")])

    for inbox in (inbox_a, inbox_b):
        assert [user for user, _ in inbox.wait_for(2)] == ["alice", "bob"]


def test_messages_arrive_in_publishing_order(make_channel: ChannelFactory) -> None:
    inbox = Inbox()
    make_channel().listen(inbox)
    publisher = make_channel()

    for version in range(1, 21):
        publisher.publish([update("alice", version=version)])

    texts = [text for _, text in inbox.wait_for(20)]
    assert texts == [f"{ACCOUNT_UPDATED}:acc-1:{v}" for v in range(1, 21)]


def test_a_listener_that_stopped_receives_nothing_more(make_channel: ChannelFactory) -> None:
    channel = make_channel()
    stopped, staying = Inbox(), Inbox()
    stop = channel.listen(stopped)
    channel.listen(staying)
    stop()

    make_channel().publish([update("alice")])

    assert len(staying.wait_for(1)) == 1
    assert stopped.received == []


def test_a_failing_listener_does_not_starve_the_others(make_channel: ChannelFactory) -> None:
    def broken(burst: Sequence[tuple[str, str]]) -> None:
        raise RuntimeError("socket exploded")

    channel, inbox = make_channel(), Inbox()
    channel.listen(broken)
    channel.listen(inbox)

    make_channel().publish([update("alice"), update("bob")])

    assert len(inbox.wait_for(2)) == 2


def test_closing_a_channel_ends_its_thread(make_channel: ChannelFactory) -> None:
    baseline = threading.active_count()
    channel = make_channel()
    channel.listen(Inbox())

    channel.close()

    deadline = time.monotonic() + 5
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= baseline


# --- Redis only: naming and isolation ----------------------------------------------------------


def test_redis_channel_names_carry_the_prefix(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(url=redis_url)
    probe = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    probe.subscribe(f"{redis_prefix}push:alice")
    probe.get_message(timeout=1)  # the subscription confirmation
    channel = RedisPushChannel(client, encode, prefix=redis_prefix)

    channel.publish([update("alice")])

    message = probe.get_message(timeout=5)
    probe.close()
    assert message is not None and message["data"] == f"{ACCOUNT_UPDATED}:acc-1:1".encode()


def test_redis_channels_of_another_prefix_do_not_hear_each_other(
    redis_url: str, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    ours = RedisPushChannel(client, encode, prefix=redis_prefix)
    theirs = RedisPushChannel(client, encode, prefix=f"{redis_prefix}other:")
    inbox, elsewhere = Inbox(), Inbox()
    ours.listen(inbox)
    theirs.listen(elsewhere)
    try:
        ours.publish([update("alice")])
        assert len(inbox.wait_for(1)) == 1
        assert elsewhere.received == []
    finally:
        ours.close()
        theirs.close()
