"""The embedded relay under concurrency, on every store: each outbox row is delivered once.

Writers append while the relay loop polls and the in-process queue's threads run jobs and
acknowledge them; nothing fails, so nothing may be delivered twice (at-least-once allows
duplicates only after a failure).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.application.ports.event_store import EventMetadata, NewEvent, StoredEvent
from backend.application.relay import InFlightRows, OutboxRelay
from backend.entrypoints.loops import PollingLoop
from tests.adapters.conftest import StoreBackend

WRITERS, COMMANDS_EACH = 4, 40


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def append_commands(backend: StoreBackend, writer: int) -> None:
    for n in range(COMMANDS_EACH):
        event = NewEvent(
            f"ev-{writer}-{n}", "Thing", 1, {"n": n}, EventMetadata(), datetime.now(UTC)
        )
        with backend.uow() as uow:
            uow.events.append(f"stream-{writer}-{n}", "thing", 0, [event])
            uow.commit()


def outbox_rows(backend: StoreBackend) -> int:
    with backend.uow() as uow:
        return len(uow.outbox.pending())


def test_relay_sends_each_outbox_row_exactly_once_when_nothing_fails(
    store_backend: StoreBackend,
) -> None:
    delivered: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(batch: list[StoredEvent]) -> None:
        with lock:
            delivered.update(event.position for event in batch)

    in_flight = InFlightRows(store_backend.uow, rescan_every=0.05)
    queue = InProcessJobQueue(handler, workers=4, on_success=in_flight.acknowledge)
    relay = OutboxRelay(store_backend.uow, queue, batch_size=5, in_flight=in_flight)
    loop = PollingLoop("test-relay", relay.relay_once, idle=0.005)
    loop.start()
    writers = [
        threading.Thread(target=append_commands, args=(store_backend, w)) for w in range(WRITERS)
    ]
    try:
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        total = WRITERS * COMMANDS_EACH
        wait_until(lambda: len(delivered) == total and queue.join(0))
        wait_until(lambda: not outbox_rows(store_backend))
    finally:
        loop.stop()
        queue.close()
    assert len(delivered) == total
    assert set(delivered.values()) == {1}, [p for p, n in delivered.items() if n > 1]
