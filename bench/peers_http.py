"""Authenticated deposits/s through gunicorn: real `hexbank serve` against the CRUD baseline.

Both servers run at once, from the same HEXBANK_* environment, on the same database and under
the same gunicorn options (bench/crud_app.py); wrk drives one at a time on loopback, alternating
(A B, B A, A B), each measured run preceded by a warm-up. One user, one account per wrk
connection (wrk -t N -c N with bench/wrk_deposit.lua), so no two requests race on one stream.

- distributed: PostgreSQL (a throwaway schema) + Redis (a throwaway prefix), HEXBANK_WORKERS=2,
  `hexbank serve` only (no `hexbank worker`: outbox rows wait, as they would behind a slow one).
- embedded, for information: SQLite, one web process (the in-process queue, relay and
  projection follower run inside it), the CRUD app on the same SQLite file, one worker too.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import jwt

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from bench.crud_app import seed
from tests.integration_services import delete_prefixed_keys, temporary_schema
from tests.live_stack import Client, Server, Stack, free_port

BENCH_DIR = Path(__file__).resolve().parent
LUA = BENCH_DIR / "wrk_deposit.lua"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
CONNECTIONS = 16
WARMUP_S, RUN_S, RUNS = 3, 10, 3
#: Tokens must outlive the whole benchmark. WARNING: hexbank logs no line per request and per
#: command, like the CRUD app (at INFO those lines cost hexbank ~10% of a deposit's CPU).
SERVER_ENV = {"HEXBANK_ACCESS_TOKEN_TTL": "3600", "HEXBANK_LOG_LEVEL": "WARNING"}
ERROR_KEYS = ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")

Figures = dict[str, float]


def wrk(url: str, seconds: int, accounts_file: Path) -> dict[str, Any]:
    """One wrk run against `url`; its WRK_RESULT line plus the rate."""
    command = ["wrk", "-t", str(CONNECTIONS), "-c", str(CONNECTIONS), "-d", f"{seconds}s"]
    command += ["--timeout", "10s", "-s", str(LUA), url]
    env = {**os.environ, "HEXBANK_WRK_ACCOUNTS": str(accounts_file)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    result["per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def alternate(targets: dict[str, str], accounts_file: Path) -> dict[str, list[dict[str, Any]]]:
    """RUNS measured runs per target in rotating order (A B, B A, ...), each after a warm-up."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    names = list(targets)
    for run in range(RUNS):
        for name in names[run % 2 :] + names[: run % 2]:
            wrk(targets[name], WARMUP_S, accounts_file)
            result = wrk(targets[name], RUN_S, accounts_file)
            failed = sum(result[k] for k in ERROR_KEYS)
            if failed > result["requests"] * 0.01:
                raise RuntimeError(f"{name}: {failed} failed requests of {result['requests']}")
            print(
                f"  {name:<8} run {run + 1}: {result['per_s']:8,.0f} req/s,"
                f" p99 {result['p99_us'] / 1000:6,.0f} ms, {failed} errors",
                flush=True,
            )
            samples[name].append(result)
    return samples


def prepare(stack: Stack, base_url: str, database_url: str, directory: Path) -> Path:
    """A user with one account per connection on hexbank, the same rows in the CRUD table,
    and the wrk accounts file listing them."""
    client = Client(base_url)
    user = client.register()
    account_ids = [client.open_account(user) for _ in range(CONNECTIONS)]
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    engine = create_engine_for(database_url)
    try:
        seed(engine, str(claims["sub"]), account_ids)
    finally:
        engine.dispose()
    accounts_file = directory / "wrk-accounts.txt"
    accounts_file.write_text("".join(f"{user.access_token} {a}\n" for a in account_ids))
    return accounts_file


def crud_server(stack: Stack, **extra_env: str) -> Server:
    """bench/crud_app.py under gunicorn, configured exactly like the stack's hexbank."""
    port = free_port()
    env = stack.env | extra_env | {"HEXBANK_PORT": str(port), "PYTHONPATH": str(BENCH_DIR.parent)}
    argv = [sys.executable, "-m", "bench.crud_app"]
    server = Server("crud", argv, env, stack.directory / "crud.log", port=port)
    stack.processes.append(server)
    return server.start()


def compare(stack: Stack, database_url: str, workers: int) -> dict[str, list[dict[str, Any]]]:
    """Migrate, start both servers, seed, measure, stop."""
    stack.migrate()
    env = SERVER_ENV | {"HEXBANK_WORKERS": str(workers)}
    try:
        hexbank = stack.serve("hexbank", **env)
        accounts_file = prepare(stack, hexbank.url, database_url, stack.directory)
        crud = crud_server(stack, **env)
        url = "{}/api/v1/accounts"  # wrk needs a URL; the script supplies the path
        return alternate(
            {"hexbank": url.format(hexbank.url), "crud": url.format(crud.url)}, accounts_file
        )
    except Exception:
        print(stack.logs()[-5000:])
        raise
    finally:
        stack.stop()


def figures_for(mode: str, samples: dict[str, list[dict[str, Any]]]) -> Figures:
    """Medians; the ratio is the median of the per-run ratios (a run = one A and one B)."""
    key = "http.deposit" if mode == "distributed" else "http.deposit.embedded"
    ours, theirs = samples["hexbank"], samples["crud"]
    median = statistics.median
    return {
        f"{key}.per_s": median(r["per_s"] for r in ours),
        f"{key}.crud_per_s": median(r["per_s"] for r in theirs),
        f"{key}.ratio_vs_crud": median(
            a["per_s"] / b["per_s"] for a, b in zip(ours, theirs, strict=True)
        ),
        f"{key}.p99_ms": median(r["p99_us"] for r in ours) / 1000,
        f"{key}.crud_p99_ms": median(r["p99_us"] for r in theirs) / 1000,
    }


@contextmanager
def _directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hexbank-http-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def distributed_figures() -> Figures:
    """PostgreSQL + Redis, 2 gunicorn workers each; {} when PostgreSQL is unreachable."""
    prefix = f"hexbank_bench_{uuid.uuid4().hex[:8]}:"
    with ExitStack() as cleanup:
        try:
            database_url = cleanup.enter_context(temporary_schema(POSTGRES_URL))
        except Exception as error:  # the SQLite figures still count
            print(f"PostgreSQL unreachable ({type(error).__name__}): skipping distributed figures")
            return {}
        cleanup.callback(delete_prefixed_keys, REDIS_URL, prefix)
        directory = cleanup.enter_context(_directory())
        stack = Stack(directory, database_url, REDIS_URL, prefix)
        return figures_for("distributed", compare(stack, database_url, workers=2))


def embedded_figures() -> Figures:
    """SQLite, one gunicorn worker each (embedded mode allows one web process)."""
    with _directory() as directory:
        stack = Stack(directory)
        database_url = f"sqlite:///{directory / 'var' / 'hexbank.sqlite3'}"
        (directory / "var").mkdir(parents=True, exist_ok=True)
        return figures_for("embedded", compare(stack, database_url, workers=1))
