"""Run one benchmark module or all of them, print their figures and merge them into results.json.

A benchmark is a module `bench/bench_<name>.py` exposing `run() -> dict[str, float]`; the names of
its figures follow BENCHMARKS.md (e.g. `event_store.sqlite.append_per_s`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
PREFIX = "bench_"

Figures = dict[str, float]


def available() -> list[str]:
    """Names of the benchmark modules present, sorted."""
    return sorted(path.stem.removeprefix(PREFIX) for path in BENCH_DIR.glob(f"{PREFIX}*.py"))


def load(name: str) -> Callable[[], Figures]:
    """The `run` function of bench/bench_<name>.py."""
    module = importlib.import_module(f"bench.{PREFIX}{name}")
    run: Callable[[], Figures] = module.run
    return run


def merge_results(figures: Figures, path: Path = RESULTS) -> dict[str, object]:
    """Merge `figures` into the flat JSON object at `path` and return the whole object."""
    results: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    results.update(figures)
    results["machine"] = f"{platform.node()} {platform.machine()} cpus={os.cpu_count()}"
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


def print_table(name: str, figures: Figures, seconds: float) -> None:
    """A readable table of one benchmark's figures."""
    width = max((len(key) for key in figures), default=10)
    print(f"\n== {name} ({seconds:.1f} s)")
    for key, value in sorted(figures.items()):
        print(f"  {key:<{width}}  {value:>14,.3f}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", help="run only bench/bench_<name>.py")
    args = parser.parse_args(argv)
    names = available()
    if args.name and args.name not in names:
        print(f"bench: no benchmark {args.name!r}; available: {', '.join(names) or 'none'}")
        return 2
    if not names:
        print("bench: no benchmark yet (add bench/bench_<name>.py with run() -> dict)")
        return 0
    for name in [args.name] if args.name else names:
        started = time.perf_counter()
        figures = load(name)()
        print_table(name, figures, time.perf_counter() - started)
        merge_results(figures)
    print(f"\nresults merged into {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
