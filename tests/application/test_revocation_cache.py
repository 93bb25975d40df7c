"""The per-process revocation cache: answers from memory only while its feed is trusted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from backend.adapters.outbound.memory.identity_store import InMemoryTokenDenylist
from backend.adapters.outbound.memory.revocation_feed import InMemoryRevocationFeed
from backend.application.ports.tokens import ApplyRevocations, Revocation
from backend.application.revocations import RevocationCache
from tests.fakes import FixedClock


class CountingStore(InMemoryTokenDenylist):
    """The durable denylist, counting the checks that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool:
        self.checks += 1
        return super().any_revoked(token_ids, now)


class ManualFeed(InMemoryRevocationFeed):
    """A feed whose trust the test sets, and whose announcements it keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.is_trusted = True
        self.announced: list[Revocation] = []

    def announce(self, revocations: Sequence[Revocation]) -> None:
        self.announced.extend(revocations)

    def listen(self, reload: Callable[[], None], apply: ApplyRevocations) -> None:
        super().listen(reload, apply)
        self.apply = apply

    def trusted(self) -> bool:
        return self.is_trusted


def test_a_trusted_cache_answers_from_memory_and_a_revocation_is_durable_first() -> None:
    clock, store, feed = FixedClock(), CountingStore(), ManualFeed()
    cache = RevocationCache(store, feed, clock)
    until = clock.now() + timedelta(minutes=15)

    cache.revoke("token-1", until, clock.now())

    assert store.in_force(clock.now()) == {"token-1": until}
    assert feed.announced == [Revocation("token-1", until)]
    assert cache.any_revoked(["token-1"], clock.now())
    assert not cache.any_revoked(["token-2"], clock.now())
    assert store.checks == 0
    clock.advance(minutes=15)
    assert not cache.any_revoked(["token-1"], clock.now())  # lapsed with the token


def test_what_another_process_announces_is_applied_and_what_was_there_is_loaded() -> None:
    clock, store, feed = FixedClock(), CountingStore(), ManualFeed()
    until = clock.now() + timedelta(minutes=15)
    store.revoke("before-start", until, clock.now())
    cache = RevocationCache(store, feed, clock)
    assert not cache.any_revoked(["anything"], clock.now())  # the first use loads and listens

    feed.apply([Revocation("from-elsewhere", until)])

    assert cache.any_revoked(["before-start"], clock.now())
    assert cache.any_revoked(["from-elsewhere"], clock.now())
    assert store.checks == 0


def test_an_untrusted_feed_sends_every_check_to_the_durable_denylist() -> None:
    clock, store, feed = FixedClock(), CountingStore(), ManualFeed()
    cache = RevocationCache(store, feed, clock)
    feed.is_trusted = False
    store.revoke("missed", clock.now() + timedelta(minutes=1), clock.now())  # never announced

    assert cache.any_revoked(["missed"], clock.now())
    assert store.checks == 1
