"""Redis revocation feed: distributed mode, where every web process keeps the denylist.

One channel, `<prefix>revocations`. A listener counts each announcement it applied in
`<prefix>revocations:ack:<id>`; the announcer returns once as many acknowledged as Redis
delivered it to. A listener trusts what it holds only while it has heard from Redis within
LEASE_SECONDS (a message or the reply to the PING it sends every PING_SECONDS); messages and
replies come in order on its one connection, so having heard anything published after an
announcement means having applied it. So an announcer that waits LEASE_SECONDS for a missing
acknowledgement knows that process by then either applied it or checks the durable denylist.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

import redis

from backend.application.ports.tokens import ApplyRevocations, Revocation

log = logging.getLogger(__name__)

LEASE_SECONDS: Final = 2.0
PING_SECONDS: Final = LEASE_SECONDS / 4
ACK_POLL_SECONDS: Final = 0.002
ACK_TTL_SECONDS: Final = 60
MAX_BACKOFF_SECONDS: Final = 5.0


class RedisRevocationFeed:
    """RevocationFeed over Redis pub/sub, one subscriber thread per process."""

    def __init__(self, client: redis.Redis, prefix: str, lease: float = LEASE_SECONDS) -> None:
        self._client, self._lease = client, lease
        self._channel = f"{prefix}revocations"
        self._stop = threading.Event()
        self._heard_at = float("-inf")  # monotonic; -inf: not live (never, or lost)
        self._thread: threading.Thread | None = None

    def announce(self, revocations: Sequence[Revocation]) -> None:
        message_id = uuid.uuid4().hex
        body = {
            "id": message_id,
            "revoked": [[r.token_id, r.until.isoformat()] for r in revocations],
        }
        receivers = int(self._client.publish(self._channel, json.dumps(body)))
        self._await_acks(f"{self._channel}:ack:{message_id}", receivers)

    def listen(self, reload: Callable[[], None], apply: ApplyRevocations) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(reload, apply), name="hexbank-revocations", daemon=True
        )
        self._thread.start()

    def trusted(self) -> bool:
        return time.monotonic() - self._heard_at < self._lease

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._lease * 2)

    def _await_acks(self, key: str, receivers: int) -> None:
        deadline = time.monotonic() + self._lease
        while int(self._client.get(key) or 0) < receivers:
            if time.monotonic() >= deadline:
                log.warning(
                    "a process did not acknowledge a revocation; it no longer trusts its copy"
                )
                return
            time.sleep(ACK_POLL_SECONDS)

    def _run(self, reload: Callable[[], None], apply: ApplyRevocations) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._subscribed(reload, apply)
                backoff = 0.1
            except Exception:  # Redis or the database lost: distrust, then subscribe again
                self._heard_at = float("-inf")
                log.warning("revocation feed lost; checking the denylist meanwhile", exc_info=True)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _subscribed(self, reload: Callable[[], None], apply: ApplyRevocations) -> None:
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self._channel)
            self._await_subscription(pubsub)
            reload()  # after subscribing: what is committed from now on also comes as a message
            self._heard_at = time.monotonic()
            self._follow(pubsub, apply)
        finally:
            self._heard_at = float("-inf")
            pubsub.close()

    def _await_subscription(self, pubsub: Any) -> None:
        deadline = time.monotonic() + self._lease * 5
        while time.monotonic() < deadline and not self._stop.is_set():
            message = pubsub.get_message(timeout=PING_SECONDS)
            if message is not None and message["type"] == "subscribe":
                return
        raise redis.ConnectionError("revocation subscription not confirmed")

    def _follow(self, pubsub: Any, apply: ApplyRevocations) -> None:
        pinged = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - pinged >= PING_SECONDS:
                pubsub.ping()
                pinged = time.monotonic()
            message = pubsub.get_message(timeout=PING_SECONDS)
            if message is None:
                continue
            if message["type"] == "message":
                self._applied(message["data"], apply)
            self._heard_at = time.monotonic()  # a pong, or a message now applied

    def _applied(self, data: bytes | str, apply: ApplyRevocations) -> None:
        body = json.loads(data)
        apply(
            [
                Revocation(token_id, datetime.fromisoformat(until))
                for token_id, until in body["revoked"]
            ]
        )
        key = f"{self._channel}:ack:{body['id']}"
        with self._client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, ACK_TTL_SECONDS)
            pipe.execute()
