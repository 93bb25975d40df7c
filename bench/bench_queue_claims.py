"""A/B for the transfer engine's queue (docs/transfer-engine.md): what handing one unit of work
to a worker costs, through rq or by claiming rows in PostgreSQL.

- `queue.rq.cpu_us_per_job`: enqueue (pipelined, as the relay does) and run an empty job with
  rq's non-forking worker, both in this process: client CPU per job; Redis's own CPU is not
  counted (a shared server), so rq is flattered here.
- `queue.claim.cpu_us_per_row.batch_{1,100}`: claim rows of a work table with `FOR UPDATE SKIP
  LOCKED` and delete them, one transaction per batch: this process's CPU plus its PostgreSQL
  backend's, per row.

Same run, alternating A B A B; the median of the rounds.
"""

from __future__ import annotations

import statistics
import time
import uuid

import redis
from rq import Queue, SimpleWorker
from sqlalchemy import Engine, create_engine, text

from bench.proc_cpu import cpu_seconds
from bench.services import distributed_services
from tests.integration_services import delete_prefixed_keys, temporary_schema

JOBS, ROWS, ROUNDS = 300, 3000, 3
CLAIM = text(
    "DELETE FROM claims WHERE id = ANY(ARRAY("
    "SELECT id FROM claims ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)) RETURNING id"
)


def noop() -> None:
    """The job: nothing, so that only the queue's own cost is measured."""


def rq_round(connection: redis.Redis, name: str) -> float:
    queue = Queue(name, connection=connection)
    started = time.process_time()
    jobs = [Queue.prepare_data(noop, job_id=f"{name}-{uuid.uuid4().hex}") for _ in range(JOBS)]
    for i in range(0, JOBS, 100):  # the relay's batches: one pipeline each
        with connection.pipeline() as pipe:
            queue.enqueue_many(jobs[i : i + 100], pipeline=pipe)
            pipe.execute()
    SimpleWorker([queue], connection=connection).work(burst=True, with_scheduler=False)
    return (time.process_time() - started) * 1e6 / JOBS


def claim_round(engine: Engine, batch: int) -> float:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO claims SELECT generate_series(1, :n)"), {"n": ROWS})
    with engine.connect() as connection:
        backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
        connection.commit()
        started, server = time.process_time(), cpu_seconds(backend)
        claimed = 0
        while claimed < ROWS:
            claimed += len(connection.execute(CLAIM, {"n": batch}).all())
            connection.commit()
        used = time.process_time() - started + cpu_seconds(backend) - server
    return used * 1e6 / ROWS


def run() -> dict[str, float]:
    services = distributed_services("bench_queue_claims")
    if services is None:
        return {}
    database_url, redis_url = services
    prefix = f"hexbank_claims_{uuid.uuid4().hex[:8]}"
    connection = redis.Redis.from_url(redis_url)
    samples: dict[str, list[float]] = {"rq": [], "batch_1": [], "batch_100": []}
    try:
        with temporary_schema(database_url) as url:
            engine = create_engine(url)
            with engine.begin() as setup:
                setup.execute(text("CREATE TABLE claims (id BIGINT PRIMARY KEY)"))
            for n in range(ROUNDS):
                samples["rq"].append(rq_round(connection, f"{prefix}-{n}"))
                samples["batch_1"].append(claim_round(engine, 1))
                samples["batch_100"].append(claim_round(engine, 100))
            engine.dispose()
    finally:
        delete_prefixed_keys(redis_url, prefix)
    median = statistics.median
    return {
        "queue.rq.cpu_us_per_job": median(samples["rq"]),
        "queue.claim.cpu_us_per_row.batch_1": median(samples["batch_1"]),
        "queue.claim.cpu_us_per_row.batch_100": median(samples["batch_100"]),
    }


if __name__ == "__main__":
    print(run())
