"""The Redis revocation feed between two processes' caches (real Redis, one shared store)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import redis

from backend.adapters.outbound.memory.identity_store import InMemoryTokenDenylist
from backend.adapters.outbound.redis.revocation_feed import RedisRevocationFeed
from backend.application.ports.tokens import Revocation
from backend.application.revocations import RevocationCache
from tests.fakes import FixedClock
from tests.live_stack import wait_for

LEASE = 0.5


@pytest.fixture
def feeds(redis_url: str, redis_prefix: str) -> Iterator[list[RedisRevocationFeed]]:
    client = redis.Redis.from_url(redis_url)
    made = [RedisRevocationFeed(client, f"{redis_prefix}:feed:", lease=LEASE) for _ in range(2)]
    yield made
    for feed in made:
        feed.close()


def until() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=15)


def test_a_revocation_in_one_process_holds_in_the_other_when_it_returns(
    feeds: list[RedisRevocationFeed],
) -> None:
    store, clock = InMemoryTokenDenylist(), FixedClock(datetime.now(UTC))
    here, there = (RevocationCache(store, feed, clock) for feed in feeds)
    for cache in (here, there):
        assert not cache.any_revoked(["warming-up"], clock.now())  # the first use subscribes
    wait_for(lambda: all(feed.trusted() for feed in feeds), 10, "both subscriptions")

    for n in range(20):
        here.revoke(f"token-{n}", until(), clock.now())
        assert there.any_revoked([f"token-{n}"], clock.now())  # no waiting: it was acknowledged
    assert not there.any_revoked(["never-revoked"], clock.now())


def test_a_process_that_cannot_apply_in_time_stops_trusting_its_copy(
    feeds: list[RedisRevocationFeed],
) -> None:
    store, clock, stuck = InMemoryTokenDenylist(), FixedClock(datetime.now(UTC)), threading.Event()
    here = RevocationCache(store, feeds[0], clock)
    assert not here.any_revoked(["warming-up"], clock.now())  # the first use subscribes

    def apply_when_unstuck(revocations: Sequence[Revocation]) -> None:
        stuck.wait(10)

    feeds[1].listen(lambda: None, apply_when_unstuck)
    wait_for(lambda: all(feed.trusted() for feed in feeds), 10, "both subscriptions")

    here.revoke("token-1", until(), clock.now())  # returns after the lease, unacknowledged

    assert not feeds[1].trusted()  # so its process checks the durable denylist instead
    stuck.set()
    wait_for(feeds[1].trusted, 10, "the stuck listener to catch up")


def test_a_feed_is_not_trusted_before_it_is_subscribed_nor_after_it_closed(
    feeds: list[RedisRevocationFeed],
) -> None:
    feed = feeds[0]
    assert not feed.trusted()
    loaded = threading.Event()
    feed.listen(loaded.set, lambda revocations: None)
    wait_for(feed.trusted, 10, "the subscription")
    assert loaded.is_set()
    feed.close()
    assert not feed.trusted()
