"""A stand-in for the embedded web process's background side, run as a subprocess that the
crash tests kill -9: SQL event store, the transfer engine on the transfer-work table, and the
in-process queue fed by the acknowledging relay.

Usage: python -m tests.adapters.messaging_process <database-url>
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, func, select

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.transfer_work import (
    SqlAlchemyTransferClaims,
    transfer_work,
)
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.adapters.outbound.system import SystemClock, UuidGenerator
from backend.application.messaging import build_dispatcher
from backend.application.transfer_engine import TransferEngine
from backend.entrypoints.loops import start_messaging
from backend.logging_setup import configure_logging
from tests.adapters.embedded_queue import in_process_queue_and_relay
from tests.fakes import BusRunner, bus_for_tests

#: The claim lease of the engines these processes run: a killed engine's transfers are taken
#: again after it (1 s, doubling per claim), long before any deadline of the crash tests.
LEASE = timedelta(seconds=1)


@dataclass
class SqlBank:
    """The command side on one database, as the container would wire it (the bus keeps the
    transfer-work table in each command's transaction)."""

    runner: BusRunner
    engine: Engine
    uow: Callable[[], SqlAlchemyUnitOfWork]

    def transfer_engine(self) -> TransferEngine:
        claims = SqlAlchemyTransferClaims(self.engine)
        return TransferEngine(self.runner.bus, claims, SystemClock(), lease=LEASE)

    def pending_work(self) -> int:
        """Rows of the transfer-work table: the transfers an engine still has to end."""
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(transfer_work)).scalar_one()

    def pending_outbox(self) -> int:
        with self.uow() as uow:
            return len(uow.outbox.pending())


def sql_bank(url: str) -> SqlBank:
    engine = create_engine_for(url)

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine)

    bus = bus_for_tests(uow, SystemClock(), UuidGenerator(), sleep=time.sleep)
    return SqlBank(BusRunner(bus), engine, uow)


def serve_messaging(url: str) -> None:
    """Run until killed."""
    bank = sql_bank(url)
    # The outbox now only carries command events to the push side: nothing to push here.
    dispatcher = build_dispatcher()
    _, relay = in_process_queue_and_relay(
        bank.uow, dispatcher.dispatch, workers=4, retry_delays=(0.05, 0.2, 1.0)
    )
    start_messaging(relay, bank.transfer_engine())
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    configure_logging("text", "INFO")  # to stderr: stdout carries only "ready"
    serve_messaging(sys.argv[1])
