"""A stand-in for the embedded web process's messaging side, run as a subprocess that the
crash tests kill -9: SQL event store, in-process queue, acknowledging relay, sweeper.

Usage: python -m tests.adapters.messaging_process <database-url>
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from backend.adapters.outbound.sqlalchemy.engine import create_engine_for
from backend.adapters.outbound.sqlalchemy.transfer_deadlines import SqlAlchemyOverdueTransfers
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.adapters.outbound.system import SystemClock, UuidGenerator
from backend.application.command_runner import CommandRunner
from backend.application.event_codec import default_codec
from backend.application.messaging import build_dispatcher
from backend.application.ports.unit_of_work import UnitOfWork
from backend.application.relay import Wakeup
from backend.application.sweeper import TransferSweeper, with_deadline_tracking
from backend.application.transfers import TransferProcess
from backend.entrypoints.loops import start_messaging
from backend.logging_setup import configure_logging
from tests.adapters.embedded_queue import in_process_queue_and_relay


def _no_read_side(uow: UnitOfWork, events: object) -> None:
    """The crash tests check the event store itself."""


@dataclass
class SqlBank:
    """The command side on one database, as the container would wire it."""

    runner: CommandRunner
    deadlines: SqlAlchemyOverdueTransfers
    uow: Callable[[], SqlAlchemyUnitOfWork]


def sql_bank(url: str) -> SqlBank:
    engine = create_engine_for(url)
    deadlines = SqlAlchemyOverdueTransfers(engine)

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine)

    runner = CommandRunner(
        uow,
        default_codec(),
        SystemClock(),
        UuidGenerator(),
        inline_projector=with_deadline_tracking(_no_read_side),
    )
    return SqlBank(runner, deadlines, uow)


def serve_messaging(url: str) -> None:
    """Run until killed."""
    bank = sql_bank(url)
    process, wakeup = TransferProcess(bank.runner), Wakeup()
    dispatcher = build_dispatcher(process, after_dispatch=(wakeup.wake,))
    _, relay = in_process_queue_and_relay(
        bank.uow, dispatcher.dispatch, workers=4, retry_delays=(0.05, 0.2, 1.0)
    )
    sweeper = TransferSweeper(bank.deadlines, process, SystemClock())
    start_messaging(relay, sweeper, wakeup)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    configure_logging("text", "INFO")  # to stderr: stdout carries only "ready"
    serve_messaging(sys.argv[1])
