"""Redis push channel: distributed mode, where a worker or any web process publishes and
every web process delivers to the sockets it holds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Final

import redis

from backend.application.ports.push import PushDelivery, PushEncoder, PushMessage, StopListening

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "hexbank:"
#: How long `listen` waits for the subscription before returning (it keeps trying after).
SUBSCRIBE_WAIT_SECONDS: Final = 5.0
POLL_SECONDS: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 10.0
#: Most messages handed to the listeners in one call.
MAX_BURST: Final = 500


class RedisPushChannel:
    """PushChannel over Redis pub/sub: one channel per user, `<prefix>push:<user id>`.

    Each web process runs ONE subscriber thread on the pattern `<prefix>push:*` and fans out
    locally, rather than one subscription per socket: Redis then holds one connection per
    process, and a socket costs nothing on Redis. Pub/sub keeps nothing: a message published
    while a process is reconnecting is lost to it, which the push contract allows.
    """

    def __init__(
        self, client: redis.Redis, encode: PushEncoder, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self._client = client
        self._encode = encode
        self._channel_prefix = f"{prefix}push:"
        self._listeners: list[PushDelivery] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, messages: Sequence[PushMessage]) -> None:
        if not messages:
            return
        with self._client.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self._channel_prefix + message.user_id, self._encode(message))
            pipe.execute()

    def listen(self, deliver: PushDelivery) -> StopListening:
        with self._lock:
            self._listeners = [*self._listeners, deliver]  # copy-on-write: the thread reads it
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="hexbank-push-redis", daemon=True
                )
                self._thread.start()
        if not self._subscribed.wait(SUBSCRIBE_WAIT_SECONDS):
            log.warning("push subscription not live yet; still trying")
        return lambda: self._forget(deliver)

    def close(self) -> None:
        with self._lock:
            thread, self._thread, self._listeners = self._thread, None, []
            self._stop.set()
        if thread is not None:
            thread.join(timeout=POLL_SECONDS * 4)

    def _forget(self, deliver: PushDelivery) -> None:
        with self._lock:
            self._listeners = [d for d in self._listeners if d is not deliver]

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._subscribe_and_deliver()
                backoff = 0.1
            except redis.RedisError:
                log.warning("push subscriber lost Redis; retrying in %.1fs", backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _subscribe_and_deliver(self) -> None:
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.psubscribe(self._channel_prefix + "*")
            while not self._stop.is_set():
                burst = self._read_burst(pubsub)
                if burst:
                    self._deliver(burst)
        finally:
            self._subscribed.clear()
            pubsub.close()

    def _read_burst(self, pubsub: Any) -> list[tuple[str, str]]:
        """Waits up to a poll for one message, then takes those already there."""
        burst: list[tuple[str, str]] = []
        message = pubsub.get_message(timeout=POLL_SECONDS)
        while message is not None:
            if message["type"] == "psubscribe":
                # Redis confirmed: from here on nothing published is missed.
                self._subscribed.set()
            elif message["type"] == "pmessage":
                burst.append(self._decoded(message))
            if len(burst) >= MAX_BURST:
                break
            message = pubsub.get_message(timeout=0.0)
        return burst

    def _decoded(self, message: dict[str, Any]) -> tuple[str, str]:
        channel = _text(message["channel"])
        return channel[len(self._channel_prefix) :], _text(message["data"])

    def _deliver(self, burst: list[tuple[str, str]]) -> None:
        for deliver in self._listeners:
            try:
                deliver(burst)
            except Exception:  # one listener's failure must not starve the others
                log.exception("push delivery failed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
