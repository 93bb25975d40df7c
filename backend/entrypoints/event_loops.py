"""The loops of the public event feed and the webhooks, in every process that runs messaging
(`hexbank serve` in embedded mode, each `hexbank worker` in distributed mode).

- the feed follower: applies the committed log to the feed, from its own checkpoint;
- the delivery loop: claims the deliveries that are due and hands them to the delivery queue
  (in-process threads, or rq's `webhooks` queue, drained here by delivery threads of their own,
  so that a slow receiver never holds the worker that runs the transfers' jobs).
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

import redis
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from backend.adapters.outbound.webhooks.queues import (
    InProcessDeliveryQueue,
    RqDeliveryQueue,
    delivery_job_class,
)
from backend.container import Container
from backend.entrypoints.loops import PollingLoop
from backend.logging_setup import get_logger

log = get_logger(__name__)

FEED_LOOP, DELIVERY_LOOP = "hexbank-feed", "hexbank-webhooks"
#: Seconds between feed polls when idle (each poll is one read that locks nothing).
FEED_IDLE = 0.1
#: Seconds between checks for due deliveries when idle (a page with deliveries wakes it).
DELIVERY_IDLE = 0.25
#: rq delivery threads per worker process: concurrent attempts it can make.
DELIVERY_THREADS = 4
#: Seconds an idle delivery thread waits for a job before it looks whether to stop.
RQ_IDLE_SECONDS = 5


class _ThreadWorker(SimpleWorker):
    """An rq worker that runs in a thread: job timeouts by timer, no signal handlers (the
    process's own worker owns those)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


@dataclass
class EventLoops:
    """The feed and delivery loops of one process (and its rq delivery threads)."""

    loops: list[PollingLoop] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    queue: object = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    def stop(self, wait: bool = False) -> None:
        self.stop_event.set()  # rq delivery threads finish the attempt in hand, then leave
        for loop in self.loops:
            loop.stop_event.set()
        for loop in self.loops:
            loop.stop()
        if isinstance(self.queue, InProcessDeliveryQueue):
            self.queue.close(wait=wait)


def start_event_loops(container: Container, *, delivery_workers: bool = True) -> EventLoops:
    """Start this process's feed follower and delivery loop (and, distributed, its rq
    delivery threads unless `delivery_workers` is False)."""
    events = container.events
    follower, sender = events.follower(), events.sender()
    queue, reader = events.delivery_queue(), events.reader()
    started = EventLoops(queue=queue)
    started.loops.append(PollingLoop(FEED_LOOP, follower.tick_backlog, FEED_IDLE))
    started.loops.append(
        PollingLoop(
            DELIVERY_LOOP,
            lambda: sender.dispatch_due(queue, reader),
            DELIVERY_IDLE,
            events.delivery_wakeup(),
        )
    )
    for loop in started.loops:
        loop.start()
    if delivery_workers and isinstance(queue, RqDeliveryQueue):
        job_class = delivery_job_class(sender.send)
        for number in range(DELIVERY_THREADS):
            name = f"hexbank-webhooks-{socket.gethostname()}-{os.getpid()}-{number}"
            args = (queue, job_class, name, started.stop_event)
            thread = threading.Thread(target=_work, args=args, name=name, daemon=True)
            thread.start()
            started.threads.append(thread)
    return started


def _work(queue: RqDeliveryQueue, job_class: type, name: str, stop: threading.Event) -> None:
    """Run rq delivery workers one after the other until `stop`: each leaves when idle for
    RQ_IDLE_SECONDS, so a stop is seen within that time."""
    while not stop.is_set():
        worker = _ThreadWorker(
            [queue.queue], connection=queue.queue.connection, name=name, job_class=job_class
        )
        try:
            worker.work(burst=False, with_scheduler=False, max_idle_time=RQ_IDLE_SECONDS)
        except redis.RedisError:
            log.exception("a webhook delivery worker lost Redis; retrying")
            stop.wait(1.0)
