"""Transfers end to end through real processes, beside a plain synchronous baseline.

- `transfers.<mode>.per_s`: completed transfers per second, HTTP in to completion observed:
  CLIENTS closed-loop clients each send a transfer (202), wait for its completion to be pushed
  on the WebSocket, and send the next, for THROUGHPUT_SECONDS.
- `transfers.<mode>.ratio_vs_plain`: that rate ÷ the plain baseline's (bench/crud_app.py:
  `POST /api/v1/transfers` moving the money in one transaction, 201 when done), driven by the
  same clients, same tokens and accounts, same database, same gunicorn options, alternating
  with hexbank in the same run; the ratio is the median of the per-round ratios.
- `transfers.<mode>.cpu_ms`: CPU of every process of the deployment (web, workers, their
  PostgreSQL backends) per completed transfer during those rounds, from /proc;
  `…plain_cpu_ms` the baseline's; `…loadgen_cpu_ms` this process's (the load generator).
- `transfers.<mode>.p50_ms` / `.p99_ms`: 202 -> `completed` pushed, at RATE_PER_S offered.
- `transfers.overload.timed_out`: transfers offered open loop at twice `per_s` for
  OVERLOAD_SECONDS; accepted ones that ended `timed_out` (both modes summed; 0 is the goal).

embedded = one `hexbank serve` (SQLite, in-process queue); distributed = one `hexbank serve`
plus two `hexbank worker` processes on PostgreSQL and Redis. Every count and duration is bounded.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import jwt

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from bench.crud_app import seed
from bench.peers_http import crud_server
from bench.proc_cpu import CpuMeter, with_application_name
from bench.services import deployment, distributed_services
from bench.transfer_load import (
    Bank,
    closed_loop,
    hexbank_transfer,
    latencies_ms,
    open_bank,
    plain_transfer,
    settle,
)
from tests import live_stack
from tests.e2e.bank_workers import LISTENING
from tests.integration_services import delete_prefixed_keys, temporary_schema, unique_name
from tests.live_stack import Server, Stack, wait_for
from tests.reliability import overload
from tests.reliability.audit import database_url

THROUGHPUT_SECONDS, WARMUP_SECONDS = 5.0, 2.0
RATE_PER_S, LATENCY_TRANSFERS = 100.0, 200
LIGHT_RATE_PER_S, LIGHT_TRANSFERS = 2.0, 20
REPETITIONS = 3
OVERLOAD_SECONDS, OVERLOAD_SETTLE_SECONDS = 60.0, 120.0
HEXBANK_NAME, PLAIN_NAME = "hexbank-bench", "plain-bench"
#: BENCHMARKS.md and issue 17: figure kind -> (comparison, goal per mode).
GOALS: dict[str, tuple[str, dict[str, float]]] = {
    "per_s": (">=", {"embedded": 300.0, "distributed": 300.0}),
    "p99_ms": ("<=", {"embedded": 100.0, "distributed": 250.0}),
    "cpu_ms": ("<=", {"embedded": 6.0, "distributed": 10.0}),
    "ratio_vs_plain": (">=", {"embedded": 0.3, "distributed": 0.3}),
    "timed_out": ("<=", {"overload": 0.0}),
}
ENV = {"HEXBANK_LOG_LEVEL": "WARNING"}


class Round:
    """One closed-loop run against one server, with the CPU it cost."""

    def __init__(self, meter: CpuMeter, url: str, transfer: Callable[..., bool]) -> None:
        self.meter, self.url, self.transfer = meter, url, transfer

    def run(self, seconds: float) -> dict[str, float]:
        self.meter.start()
        loadgen = time.process_time()
        done, elapsed = closed_loop(self.url, self.transfer, seconds)
        loadgen = time.process_time() - loadgen
        cpu = self.meter.stop()
        return {"per_s": done / elapsed, "cpu_ms": cpu * 1000 / done, "loadgen": loadgen / done}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def compare(mode: str, bank: Bank, ours: Round, plain: Round) -> dict[str, float]:
    """Warm-up, then REPETITIONS rounds of hexbank then the baseline (order alternating)."""
    ours.run(WARMUP_SECONDS)
    plain.run(WARMUP_SECONDS)
    rounds: list[tuple[dict[str, float], dict[str, float]]] = []
    for repetition in range(REPETITIONS):
        settle(bank)
        first, second = (ours, plain) if repetition % 2 == 0 else (plain, ours)
        a, b = first.run(THROUGHPUT_SECONDS), second.run(THROUGHPUT_SECONDS)
        rounds.append((a, b) if first is ours else (b, a))
        mine, theirs = rounds[-1]
        print(f"bench_transfers: {mode}: {mine['per_s']:.0f}/s ({mine['cpu_ms']:.1f} ms CPU,"
              f" {ours.meter.counted} processes) vs plain {theirs['per_s']:.0f}/s"
              f" ({theirs['cpu_ms']:.2f} ms, {plain.meter.counted})")  # fmt: skip
    median = statistics.median
    prefix = f"transfers.{mode}"
    return {
        f"{prefix}.per_s": median(m["per_s"] for m, _ in rounds),
        f"{prefix}.cpu_ms": median(m["cpu_ms"] for m, _ in rounds),
        f"{prefix}.loadgen_cpu_ms": median(m["loadgen"] * 1000 for m, _ in rounds),
        f"{prefix}.plain_per_s": median(p["per_s"] for _, p in rounds),
        f"{prefix}.plain_cpu_ms": median(p["cpu_ms"] for _, p in rounds),
        f"{prefix}.ratio_vs_plain": median(m["per_s"] / p["per_s"] for m, p in rounds),
    }


def latency(mode: str, bank: Bank) -> dict[str, float]:
    """p50/p99 at RATE_PER_S, median of REPETITIONS; the light-load latency printed."""
    p50s, p99s = [], []
    latencies_ms(bank, 50, RATE_PER_S)
    for _ in range(REPETITIONS):
        settle(bank)
        samples = latencies_ms(bank, LATENCY_TRANSFERS, RATE_PER_S)
        p50s.append(_percentile(samples, 0.50))
        p99s.append(_percentile(samples, 0.99))
    settle(bank)
    light = latencies_ms(bank, LIGHT_TRANSFERS, LIGHT_RATE_PER_S)
    p50, p99 = _percentile(light, 0.5), _percentile(light, 0.99)
    print(f"bench_transfers: {mode} p99 {p99s} ms; at {LIGHT_RATE_PER_S:g}/s:"
          f" p50 {p50:.0f} ms, p99 {p99:.0f} ms")  # fmt: skip
    return {
        f"transfers.{mode}.p50_ms": statistics.median(p50s),
        f"transfers.{mode}.p99_ms": statistics.median(p99s),
    }


def overloaded(mode: str, stack: Stack, bank: Bank, capacity: float) -> dict[str, float]:
    """Twice `capacity` offered for OVERLOAD_SECONDS: accepted transfers that timed out."""
    settle(bank)
    target = overload.Bank(bank.url, bank.users)
    rate = 2 * capacity
    offered = overload.offer(target, int(rate * OVERLOAD_SECONDS), rate)
    outcome = overload.settle(database_url(stack), offered.accepted, OVERLOAD_SETTLE_SECONDS)
    reasons = Counter(reason for _, reason in outcome.values())
    print(f"bench_transfers: {mode} overload at {rate:.0f}/s: {dict(offered.statuses)},"
          f" ended {dict(reasons)}")  # fmt: skip
    return {f"transfers.{mode}.overload_timed_out": float(reasons["timed_out"])}


def measure(mode: str, stack: Stack, web: Server, plain: Server, db_url: str) -> dict[str, float]:
    bank = open_bank(web.url)
    try:
        _seed_plain(db_url, bank)
        pg_url = db_url if mode == "distributed" else None
        ours = Round(
            _meter(stack, "crud", False, pg_url, HEXBANK_NAME), web.url, hexbank_transfer(bank)
        )
        theirs = Round(
            _meter(stack, "crud", True, pg_url, PLAIN_NAME), plain.url, plain_transfer(bank)
        )
        figures = compare(mode, bank, ours, theirs)
        figures |= latency(mode, bank)
        figures |= overloaded(mode, stack, bank, figures[f"transfers.{mode}.per_s"])
        return figures
    finally:
        bank.completions.close()


def _meter(stack: Stack, plain: str, is_plain: bool, db_url: str | None, name: str) -> CpuMeter:
    """The CPU of the baseline's processes, or of every other process of the stack."""
    roots = [p.popen.pid for p in stack.processes if p.popen and (p.name == plain) == is_plain]
    return CpuMeter(roots, db_url, name if db_url else None)


def _seed_plain(url: str, bank: Bank) -> None:
    """The baseline's accounts: the same ids and owners, 10^9 each."""
    engine = create_engine_for(url)
    try:
        for user, account_id in bank.users:
            owner = jwt.decode(user.access_token, options={"verify_signature": False})["sub"]
            seed(engine, str(owner), [account_id], balance=10**9)
    finally:
        engine.dispose()


def _embedded() -> dict[str, float]:
    with deployment(ENV) as stack:
        web = stack.serve()
        plain = crud_server(stack, **ENV)
        return measure("embedded", stack, web, plain, database_url(stack))


def _distributed(base_url: str, redis_url: str) -> dict[str, float]:
    prefix = unique_name("bench") + ":"
    try:
        with (
            temporary_schema(base_url) as schema_url,
            deployment(
                ENV,
                database_url=with_application_name(schema_url, HEXBANK_NAME),
                redis_url=redis_url,
                redis_prefix=prefix,
            ) as stack,
        ):
            workers = [stack.worker(f"worker{n}") for n in (1, 2)]
            web = stack.serve()
            plain_url = with_application_name(schema_url, PLAIN_NAME)
            plain = crud_server(stack, **ENV, HEXBANK_DATABASE_URL=plain_url)
            wait_for(lambda: all(LISTENING in w.log() for w in workers), 60, "the workers")
            return measure("distributed", stack, web, plain, schema_url)
    finally:
        delete_prefixed_keys(redis_url, prefix)


def print_goals(figures: dict[str, float]) -> None:
    """The figures beside their goals (BENCHMARKS.md, issue 17)."""
    print("\n  figure                                value      goal")
    for name, value in sorted(figures.items()):
        _, mode, kind = name.split(".")
        goal = ""
        if kind in GOALS and mode in GOALS[kind][1]:
            op, bound = GOALS[kind][0], GOALS[kind][1][mode]
            met = value >= bound if op == ">=" else value <= bound
            goal = f"{op} {bound:g}  {'met' if met else 'MISSED'}"
        print(f"  {name:<36} {value:>9.2f}   {goal}")


def run() -> dict[str, Any]:
    """Embedded and (when PostgreSQL and Redis answer) distributed figures."""
    live_stack.STARTUP_SECONDS = 120  # three servers starting on a busy 2-core machine
    figures = _embedded()
    print_goals(figures)  # kept in the output should the distributed run fail
    services = distributed_services("bench_transfers")
    if services is not None:
        figures.update(_distributed(*services))
    timed_out = [v for k, v in figures.items() if k.endswith(".overload_timed_out")]
    figures["transfers.overload.timed_out"] = sum(timed_out)
    print_goals(figures)
    return figures


if __name__ == "__main__":
    run()
