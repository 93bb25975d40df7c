"""A writer for R14: runs deposits and transfer requests through the command layer of the
deployment configured in the environment, and prints the id of each one once it committed
(an acknowledged write). The test kills it with SIGKILL at some moment.

    python -m tests.reliability.writer <accounts> <seed>
"""

from __future__ import annotations

import random
import sys
from functools import partial

from backend.application import accounts
from backend.application.command_runner import CommandRunner
from backend.application.commands import Deposit, OpenAccount, RequestTransfer
from backend.application.ports.event_store import EventMetadata
from backend.application.transfers import request_transfer
from backend.config import Settings
from backend.container import build_container
from backend.logging_setup import configure_logging

OWNER = "durability-owner"
META = EventMetadata(user_id=OWNER)
PREFIX = "ack"  # stdout lines the test reads: `ack <kind> <id>`


def acknowledge(kind: str, identifier: str) -> None:
    print(PREFIX, kind, identifier, flush=True)


def open_accounts(runner: CommandRunner, count: int) -> list[str]:
    command = OpenAccount(OWNER, "Durable", "EUR")
    opened = []
    for _ in range(count):
        opened.append(runner.run(lambda ctx: accounts.open_account(command, ctx), META).id)
        acknowledge("account", opened[-1])
    return opened


def write_forever(runner: CommandRunner, account_ids: list[str], rng: random.Random) -> None:
    while True:
        source, target = rng.sample(account_ids, 2)
        if rng.random() < 0.6:
            deposit = Deposit(OWNER, source, rng.randint(1, 500))
            acknowledge("deposit", runner.run(partial(accounts.deposit, deposit), META).event_id)
        else:
            command = RequestTransfer(OWNER, source, target, rng.randint(1, 300))
            acknowledge("transfer", runner.run(partial(request_transfer, command), META).id)


def main() -> None:
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)  # to stderr: stdout is for acks
    runner = build_container(settings).command_runner()
    write_forever(runner, open_accounts(runner, count), random.Random(seed))  # noqa: S311


if __name__ == "__main__":
    main()
