"""Peers benchmark: hexbank against the `eventsourcing` library and against a plain CRUD app.

- `peer.eventsourcing.{sqlite,postgres}.*`: one bank-account workload through hexbank's
  application layer and through eventsourcing 9.5, same process, alternating (peers_library.py).
- `http.deposit.*`: authenticated deposits/s through gunicorn, real `hexbank serve` against
  bench/crud_app.py on the same database and gunicorn options, driven by wrk (peers_http.py).

Run with `make bench BENCH=peers` (installs requirements/bench.lock; needs `wrk` on PATH).
"""

from __future__ import annotations

import os
import shutil

from backend.logging_setup import configure_logging
from bench import peers_http, peers_library

Figures = dict[str, float]

GOALS = {
    "peer.eventsourcing.sqlite.ratio": ">= 2",
    "peer.eventsourcing.postgres.ratio": ">= 1.5",
    "http.deposit.ratio_vs_crud": ">= 0.7",
}


def print_report(figures: Figures) -> None:
    print(f"\npeers (load average at start: {figures['peer.load_avg_1m']:.1f})")
    for backend in ("sqlite", "postgres"):
        key = f"peer.eventsourcing.{backend}"
        if f"{key}.ratio" not in figures:
            continue
        print(
            f"  {backend:<9} commands/s: hexbank {figures[f'{key}.hexbank_per_s']:>7,.0f}"
            f" | eventsourcing {figures[f'{key}.eventsourcing_per_s']:>7,.0f}"
            f" | ratio {figures[f'{key}.ratio']:.2f} (goal {GOALS[f'{key}.ratio']})"
            f" | no projection {figures[f'{key}.hexbank_no_projection_per_s']:>7,.0f}"
            f" ({figures[f'{key}.ratio_no_projection']:.2f})"
        )
    for key, label in (("http.deposit", "distributed"), ("http.deposit.embedded", "embedded")):
        if f"{key}.per_s" not in figures:
            continue
        goal = GOALS["http.deposit.ratio_vs_crud"] if label == "distributed" else "info"
        print(
            f"  {label:<11} deposits/s: hexbank {figures[f'{key}.per_s']:>7,.0f}"
            f" (p99 {figures[f'{key}.p99_ms']:,.0f} ms)"
            f" | CRUD {figures[f'{key}.crud_per_s']:>7,.0f}"
            f" (p99 {figures[f'{key}.crud_p99_ms']:,.0f} ms)"
            f" | ratio {figures[f'{key}.ratio_vs_crud']:.2f} ({goal})"
        )


def run() -> Figures:
    """Every figure of this benchmark (PostgreSQL ones only when it is reachable)."""
    # This machine is shared: the load when the run started helps reading its figures.
    figures: Figures = {"peer.load_avg_1m": os.getloadavg()[0]}
    # The production runner logs each command at INFO: a servers' concern, not the
    # application layer's, and one line per command would flood this table.
    configure_logging("json", "WARNING")
    print("peers: hexbank vs eventsourcing, SQLite", flush=True)
    figures.update(peers_library.sqlite_figures())
    print("peers: hexbank vs eventsourcing, PostgreSQL", flush=True)
    figures.update(peers_library.postgres_figures())
    if shutil.which("wrk") is None:
        print("peers: wrk not found (apt-get install -y wrk): skipping the HTTP figures")
    else:
        print("peers: HTTP deposits, distributed (PostgreSQL + Redis, 2 workers)", flush=True)
        figures.update(peers_http.distributed_figures())
        print("peers: HTTP deposits, embedded (SQLite, 1 worker)", flush=True)
        figures.update(peers_http.embedded_figures())
    print_report(figures)
    return figures


if __name__ == "__main__":
    run()
