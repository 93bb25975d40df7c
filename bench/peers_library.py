"""hexbank's application layer against the `eventsourcing` library, on one bank-account workload.

Workload, identical on both sides: open N accounts; then M deposits per account, round-robin,
each one command = load the aggregate (snapshot + later events) and save one event in its own
transaction; then load every account once. Snapshots every 100 events on both sides, no
aggregate cache (eventsourcing's default). Rate = (N opens + N*M deposits) / elapsed seconds
of the whole workload (the final loads included).

- hexbank: the production CommandRunner from the container (inline read-model projection and
  the transfer-deadline index in the command's transaction, outbox row per event), and for
  information a bare CommandRunner with no projection.
- eventsourcing 9.5: `Application` with `snapshotting_intervals = {BankAccount: 100}`,
  PERSISTENCE_MODULE=eventsourcing.sqlite / eventsourcing.postgres.

Durability: both sides use SQLite WAL. eventsourcing leaves `synchronous` at SQLite's default
(FULL: an fsync per commit) while hexbank sets NORMAL, so the compared runs give eventsourcing's
connections NORMAL too; its default (FULL) is measured once for information. On PostgreSQL both
run with the server's settings (synchronous_commit=on) and each serialises appenders (hexbank:
advisory lock; eventsourcing: LOCK TABLE ... IN EXCLUSIVE MODE).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application  # type: ignore[import-not-found, unused-ignore]
from eventsourcing.domain import Aggregate, event  # type: ignore[import-not-found, unused-ignore]
from eventsourcing.sqlite import (  # type: ignore[import-not-found, unused-ignore]
    SQLiteConnectionPool,
)
from sqlalchemy.engine import make_url

from backend.adapters.outbound.system import SystemClock, UuidGenerator
from backend.application import accounts
from backend.application.command_runner import CommandContext, CommandRunner
from backend.application.commands import Deposit, OpenAccount
from backend.application.event_codec import default_codec
from backend.application.ports.event_store import EventMetadata
from backend.config import Settings
from backend.container import build_container
from backend.entrypoints.cli.migrate import upgrade_database
from tests.integration_services import temporary_schema

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACCOUNTS = {"sqlite": 10, "postgres": 10}
DEPOSITS = {"sqlite": 150, "postgres": 110}  # > 100, so every account takes a snapshot
REPS = 5
OWNER = "bench-owner"
META = EventMetadata(correlation_id="bench", user_id=OWNER)
SECRET = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105 (no server here)

Figures = dict[str, float]
Workload = Callable[[int, int], float]

#: SQLite `synchronous` to set on the eventsourcing connections of a database file.
_SYNCHRONOUS: dict[str, str] = {}


# --- the eventsourcing side ----------------------------------------------------------------------


class BankAccount(Aggregate):  # type: ignore[misc, unused-ignore]
    """The same account as hexbank's, written the way the eventsourcing docs show."""

    @event("Opened")  # type: ignore[untyped-decorator, unused-ignore]
    def __init__(self, owner_id: str, name: str, currency: str) -> None:
        self.owner_id, self.name, self.currency = owner_id, name, currency
        self.balance, self.closed = 0, False

    @event("Deposited")  # type: ignore[untyped-decorator, unused-ignore]
    def _deposited(self, amount: int, currency: str, reference: str | None) -> None:
        self.balance += amount

    def deposit(self, amount: int, reference: str | None = None) -> None:
        # The checks hexbank's Account.deposit makes before it records the event.
        if self.closed or amount <= 0:
            raise ValueError("refused")
        self._deposited(amount, self.currency, reference)


class Bank(Application[UUID]):  # type: ignore[misc, unused-ignore]
    """An eventsourcing application with the commands of the workload."""

    snapshotting_intervals = {BankAccount: 100}  # noqa: RUF012 (the library's class variable)

    def open_account(self, owner_id: str, name: str, currency: str) -> Any:
        account = BankAccount(owner_id, name, currency)
        self.save(account)
        return account.id

    def deposit(self, owner_id: str, account_id: Any, amount: int) -> None:
        account = self.load_owned(owner_id, account_id)
        account.deposit(amount)
        self.save(account)

    def load_owned(self, owner_id: str, account_id: Any) -> BankAccount:
        account: BankAccount = self.repository.get(account_id)
        if account.owner_id != owner_id:
            raise LookupError(account_id)
        return account


def eventsourcing_workload(bank: Bank, accounts_count: int, deposits: int) -> float:
    """Commands per second of the workload through the eventsourcing application."""
    started = time.perf_counter()
    ids = [bank.open_account(OWNER, "Main", "EUR") for _ in range(accounts_count)]
    for _ in range(deposits):
        for account_id in ids:
            bank.deposit(OWNER, account_id, 100)
    for account_id in ids:
        assert bank.load_owned(OWNER, account_id).balance == 100 * deposits
    return accounts_count * (deposits + 1) / (time.perf_counter() - started)


def _install_synchronous_hook() -> None:
    """Let `_SYNCHRONOUS` choose `PRAGMA synchronous` for new eventsourcing SQLite connections."""
    original = SQLiteConnectionPool._create_connection
    if getattr(original, "bench_hook", False):
        return

    def create_connection(pool: Any) -> Any:
        connection = original(pool)
        if (mode := _SYNCHRONOUS.get(pool.db_name)) is not None:
            connection._sqlite_conn.execute(f"PRAGMA synchronous={mode}")
        return connection

    create_connection.bench_hook = True  # type: ignore[attr-defined]
    setattr(SQLiteConnectionPool, "_create_connection", create_connection)  # noqa: B010


def sqlite_bank(path: Path, synchronous: str | None) -> Bank:
    _install_synchronous_hook()
    if synchronous is not None:
        _SYNCHRONOUS[str(path)] = synchronous
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    return Bank(env=env)


def postgres_bank(base_url: str, schema: str) -> Bank:
    url = make_url(base_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database or "postgres",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": schema,
    }
    return Bank(env=env)


# --- the hexbank side ----------------------------------------------------------------------------


@contextmanager
def hexbank_runners(database_url: str, data_dir: Path) -> Iterator[dict[str, CommandRunner]]:
    """The CommandRunner `hexbank serve` uses (inline projection + deadline index, from the
    container) and, for information, a bare one on the same engine with no read-model work."""
    settings = Settings(env="test", data_dir=data_dir, database_url=database_url, secret_key=SECRET)
    container = build_container(settings)
    bare = CommandRunner(container.unit_of_work, default_codec(), SystemClock(), UuidGenerator())
    try:
        yield {"hexbank": container.command_runner(), "hexbank_bare": bare}
    finally:
        container.engine().dispose()


def _open(ctx: CommandContext) -> str:
    return accounts.open_account(OpenAccount(OWNER, "Main", "EUR"), ctx).id


def _balance(account_id: str, ctx: CommandContext) -> int:
    return accounts.load_owned(ctx, account_id, OWNER).balance


def hexbank_workload(runner: CommandRunner, accounts_count: int, deposits: int) -> float:
    """Commands per second of the workload through hexbank's application layer."""
    started = time.perf_counter()
    ids = [runner.run(_open, META) for _ in range(accounts_count)]
    for _ in range(deposits):
        for account_id in ids:
            command = Deposit(OWNER, account_id, 100)
            runner.run(partial(accounts.deposit, command), META)
    for account_id in ids:
        assert runner.run(partial(_balance, account_id), META) == 100 * deposits
    return accounts_count * (deposits + 1) / (time.perf_counter() - started)


# --- alternation and figures ---------------------------------------------------------------------


def alternate(paths: dict[str, Workload], backend: str) -> dict[str, list[float]]:
    """A short warm-up of each path, then REPS rounds in rotating order: per path, its rates
    (commands per wall-clock second) and, under `<path>.cpu`, per CPU-second of this process."""
    size, deposits = ACCOUNTS[backend], DEPOSITS[backend]
    for workload in paths.values():
        workload(size, 10)  # compiled-statement caches, pools, page cache
    rates: dict[str, list[float]] = {key: [] for name in paths for key in (name, f"{name}.cpu")}
    names = list(paths)
    for rep in range(REPS):
        # Rotate who goes first, so drift in machine load favours no one.
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            cpu = time.process_time()
            rates[name].append(paths[name](size, deposits))
            rates[f"{name}.cpu"].append(size * (deposits + 1) / (time.process_time() - cpu))
        line = ", ".join(f"{name} {rates[name][-1]:,.0f}/s" for name in names)
        print(f"  {backend} round {rep + 1}: {line}", flush=True)
    return rates


def _ratio(ours: list[float], theirs: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def figures_for(backend: str, rates: dict[str, list[float]]) -> Figures:
    """Medians per path; each ratio is the median of the per-round ratios, so that a load
    change between rounds (this machine is shared) moves both sides of a ratio together.
    `cpu_ratio`: the same from CPU time of this process (steadier on a loaded machine; on
    PostgreSQL it leaves out the server's work)."""
    key = f"peer.eventsourcing.{backend}"
    ours, bare, theirs = rates["hexbank"], rates["hexbank_bare"], rates["eventsourcing"]
    return {
        f"{key}.hexbank_per_s": statistics.median(ours),
        f"{key}.hexbank_no_projection_per_s": statistics.median(bare),
        f"{key}.eventsourcing_per_s": statistics.median(theirs),
        f"{key}.ratio": _ratio(ours, theirs),
        f"{key}.ratio_no_projection": _ratio(bare, theirs),
        f"{key}.cpu_ratio": _ratio(rates["hexbank.cpu"], rates["eventsourcing.cpu"]),
    }


def compare(backend: str, runners: dict[str, CommandRunner], bank: Bank) -> Figures:
    paths: dict[str, Workload] = {
        "hexbank": partial(hexbank_workload, runners["hexbank"]),
        "eventsourcing": partial(eventsourcing_workload, bank),
        "hexbank_bare": partial(hexbank_workload, runners["hexbank_bare"]),
    }
    return figures_for(backend, alternate(paths, backend))


def sqlite_figures() -> Figures:
    with tempfile.TemporaryDirectory(prefix="hexbank-peers-") as directory:
        root = Path(directory)
        url = f"sqlite:///{root / 'hexbank.sqlite3'}"
        upgrade_database(url)
        bank = sqlite_bank(root / "eventsourcing.sqlite3", synchronous="NORMAL")
        with hexbank_runners(url, root) as runners:
            figures = compare("sqlite", runners, bank)
        bank.close()
        # For information: eventsourcing as it ships (synchronous=FULL), one run.
        default_bank = sqlite_bank(root / "eventsourcing-default.sqlite3", synchronous=None)
        eventsourcing_workload(default_bank, ACCOUNTS["sqlite"], 10)
        rate = eventsourcing_workload(default_bank, ACCOUNTS["sqlite"], DEPOSITS["sqlite"])
        default_bank.close()
        figures["peer.eventsourcing.sqlite.eventsourcing_sync_full_per_s"] = rate
        return figures


def postgres_figures(base_url: str = POSTGRES_URL) -> Figures:
    """Both sides on throwaway schemas of one database (dropped afterwards); {} if unreachable."""
    with ExitStack() as cleanup:  # unwinds in reverse: engines, eventsourcing, then schemas
        try:
            ours = cleanup.enter_context(temporary_schema(base_url))
            theirs = cleanup.enter_context(temporary_schema(base_url))
        except Exception as error:  # unreachable or refused: the SQLite figures still count
            print(f"PostgreSQL unreachable at {base_url} ({type(error).__name__}): skipping it")
            return {}
        directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        upgrade_database(ours)
        search_path = make_url(theirs).query["options"]
        bank = postgres_bank(base_url, str(search_path).removeprefix("-csearch_path="))
        cleanup.callback(bank.close)
        runners = cleanup.enter_context(hexbank_runners(ours, directory))
        return compare("postgres", runners, bank)
