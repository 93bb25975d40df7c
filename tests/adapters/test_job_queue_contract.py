"""One contract for every JobQueue: the in-process pool and rq on a real Redis."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import redis
from rq import SimpleWorker

from backend.adapters.outbound.queue.in_process import InProcessJobQueue
from backend.adapters.outbound.queue.rq_queue import RqJobQueue
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.job_queue import JobQueue
from tests.adapters import queue_probe

PROBE = queue_probe.PROBE


def event(position: int) -> StoredEvent:
    return StoredEvent(
        position=position,
        event_id=f"event-{position}",
        stream_id="stream-1",
        stream_type="account",
        version=position,
        type="MoneyDeposited",
        schema_version=2,
        data={"amount": position, "currency": "EUR", "reference": None},
        metadata=EventMetadata(correlation_id="c-1", causation_id=None),
        occurred_at=datetime(2026, 11, 21, 10, 0, position, tzinfo=UTC),
    )


@dataclass
class Recorder:
    """The subscriber side: records each delivered batch; fails its first `failures` calls."""

    failures: int = 0
    calls: int = 0
    batches: list[list[int]] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, events: list[StoredEvent]) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise RuntimeError(f"subscriber failure {self.calls}")
            self.batches.append([e.position for e in events])
            self.events.extend(events)


@dataclass
class QueueUnderTest:
    queue: JobQueue
    recorder: Recorder
    #: Runs until every job finished or failed for good (retries included).
    process: Callable[[], None]


#: Builds a queue whose jobs call the recorder, retrying a failed job twice.
QueueFactory = Callable[[Recorder], QueueUnderTest]


def in_process_factory() -> Iterator[QueueFactory]:
    queues: list[InProcessJobQueue] = []

    def build(recorder: Recorder) -> QueueUnderTest:
        queue = InProcessJobQueue(recorder, workers=2, retry_delays=(0.01, 0.02))
        queues.append(queue)
        return QueueUnderTest(queue, recorder, lambda: _joined(queue))

    yield build
    for queue in queues:
        queue.close()


def _joined(queue: InProcessJobQueue) -> None:
    assert queue.join(timeout=10), "jobs still running after 10 s"


def rq_factory(redis_url: str, redis_prefix: str) -> Iterator[QueueFactory]:
    connection = redis.Redis.from_url(redis_url)

    def build(recorder: Recorder) -> QueueUnderTest:
        name = f"{redis_prefix}-jobs-{uuid.uuid4().hex[:8]}"
        queue = RqJobQueue(connection, name, job_function=PROBE, retry_intervals=(0, 0))
        queue_probe.HANDLERS[name] = recorder

        def process() -> None:
            worker = SimpleWorker([queue.queue], connection=connection, name=f"{name}-worker")
            worker.work(burst=True)

        return QueueUnderTest(queue, recorder, process)

    yield build
    connection.close()


@pytest.fixture(params=["in_process", "rq"])
def make_queue(request: pytest.FixtureRequest) -> Iterator[QueueFactory]:
    if request.param == "in_process":
        yield from in_process_factory()
    else:
        redis_url = request.getfixturevalue("redis_url")
        yield from rq_factory(redis_url, request.getfixturevalue("redis_prefix"))


def test_each_batch_is_one_job_delivered_with_its_events_in_order(make_queue: QueueFactory) -> None:
    subject = make_queue(Recorder())
    subject.queue.enqueue_batches([[event(1), event(2)], [event(3)], [event(4), event(5)]])
    subject.process()
    assert sorted(subject.recorder.batches) == [[1, 2], [3], [4, 5]]


def test_events_arrive_with_every_field_intact(make_queue: QueueFactory) -> None:
    subject = make_queue(Recorder())
    subject.queue.enqueue_batches([[event(7), event(8)]])
    subject.process()
    assert subject.recorder.events == [event(7), event(8)]


def test_no_batches_enqueue_nothing(make_queue: QueueFactory) -> None:
    subject = make_queue(Recorder())
    subject.queue.enqueue_batches([])
    subject.process()
    assert subject.recorder.calls == 0


def test_failing_job_is_retried_until_it_succeeds(make_queue: QueueFactory) -> None:
    subject = make_queue(Recorder(failures=2))
    subject.queue.enqueue_batches([[event(1)]])
    subject.process()
    assert subject.recorder.calls == 3
    assert subject.recorder.batches == [[1]]
    assert subject.queue.failed_jobs() == []


def test_job_failing_beyond_its_retries_is_kept_as_failed(make_queue: QueueFactory) -> None:
    subject = make_queue(Recorder(failures=100))
    subject.queue.enqueue_batches([[event(1), event(2)]])
    subject.process()
    assert subject.recorder.calls == 3
    [failed] = subject.queue.failed_jobs()
    assert (failed.events, failed.attempts) == (2, 3)
    assert "subscriber failure 3" in failed.error
    assert failed.failed_at is not None


def test_a_failed_job_does_not_hold_up_the_others(make_queue: QueueFactory) -> None:
    subject = make_queue(Recorder(failures=3))
    subject.queue.enqueue_batches([[event(1)]])
    subject.process()
    subject.queue.enqueue_batches([[event(2)], [event(3)]])
    subject.process()
    assert sorted(subject.recorder.batches) == [[2], [3]]
    assert len(subject.queue.failed_jobs()) == 1
