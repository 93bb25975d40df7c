"""Token revocations held in each process's memory, so that checking a token costs no query.

The durable denylist stays the source of truth. Each process loads what is in force when its
feed subscription goes live, and applies every revocation the feed announces; a revocation
returns only once every listening process applied it, or once any that did not has stopped
trusting its memory. While a process's feed is not trusted (not subscribed yet, Redis lost,
nothing heard for a while) its checks go to the durable denylist, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.tokens import Revocation, RevocationFeed, RevocationStore


class RevocationCache:
    """A TokenDenylist answering from memory while its feed is trusted, else from the store."""

    def __init__(self, store: RevocationStore, feed: RevocationFeed, clock: Clock) -> None:
        self.store, self.feed, self._clock = store, feed, clock
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._listening, self._starting = False, threading.Lock()

    def revoke(self, token_id: str, until: datetime, now: datetime) -> None:
        """Deny durably first, then here, then in every other process (waits for them)."""
        self._listen()
        self.store.revoke(token_id, until, now)
        revocation = Revocation(token_id, until)
        self._apply([revocation])
        self.feed.announce([revocation])

    def any_revoked(self, token_ids: Sequence[str], now: datetime) -> bool:
        self._listen()
        if not self.feed.trusted():
            return self.store.any_revoked(token_ids, now)
        until = self._until  # replaced whole, never changed in place: no lock to read
        return any(until.get(token_id, now) > now for token_id in token_ids)

    def _listen(self) -> None:
        # At first use, not when built: building the adapters opens no connection.
        if not self._listening:
            with self._starting:
                if not self._listening:
                    self._listening = True
                    self.feed.listen(self._reload, self._apply)

    def _reload(self) -> None:
        in_force = self.store.in_force(self._clock.now())
        with self._lock:
            self._until = {**in_force, **self._until}

    def _apply(self, revocations: Sequence[Revocation]) -> None:
        now = self._clock.now()
        with self._lock:
            kept = {key: until for key, until in self._until.items() if until > now}
            kept.update(
                (r.token_id, max(r.until, kept.get(r.token_id, r.until))) for r in revocations
            )
            self._until = kept
