"""R14: durability and rebuild. Thousands of events go through the command layer (a writer
process) while a live embedded server runs the saga and the projections; then everything is
killed with SIGKILL at once. After a restart: no acknowledged write is lost, every transfer
ends, and the read models equal both a fresh `hexbank projections rebuild` and the fold of the
account streams.

Bounded to ~5k events here; `make soak` writes for the whole soak.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select

from backend.adapters.outbound.sqlalchemy.event_store_tables import events
from backend.adapters.outbound.sqlalchemy.read_model_tables import LIVE
from tests.live_stack import Stack, wait_for
from tests.reliability.audit import audit_read_side, database_url, event_count, query, read_models
from tests.reliability.stacks import soak_seconds
from tests.reliability.writer import PREFIX

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 6
#: About 5,000 events: deposits are one event, transfers seven with their saga. A soak
#: writes for its whole length instead.
ACKNOWLEDGED = 1_600


class Acknowledgements(threading.Thread):
    """Reads the writer's `<kind> <id>` lines until it dies."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.ids: dict[str, list[str]] = defaultdict(list)
        self.count = 0

    def run(self) -> None:
        for line in self.stream:
            words = line.split()
            if len(words) == 3 and words[0] == PREFIX:
                self.ids[words[1]].append(words[2])
                self.count += 1


def start_writer(stack: Stack, log: Path) -> tuple[subprocess.Popen[str], Acknowledgements]:
    argv = [sys.executable, "-m", "tests.reliability.writer", str(ACCOUNTS), "14"]
    with log.open("a") as stderr:
        writer = subprocess.Popen(
            argv, cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    assert writer.stdout is not None
    acks = Acknowledgements(writer.stdout)
    acks.start()
    return writer, acks


def write_for_a_while(writer: subprocess.Popen[str], acks: Acknowledgements) -> None:
    """Until ACKNOWLEDGED writes (bounded run) or the soak's end, or the writer's death."""
    soak = soak_seconds()
    deadline = time.monotonic() + (soak or 120)
    while writer.poll() is None and time.monotonic() < deadline:
        if not soak and acks.count >= ACKNOWLEDGED:
            return
        time.sleep(0.05)  # polling the acknowledgement count, with a deadline


def balances_by_folding(url: str) -> dict[str, tuple[int, int]]:
    """(balance, held) of every account, folded from its stream in the event log."""
    folded: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = select(events.c.stream_id, events.c.type, events.c.data).order_by(events.c.position)
    effects = {
        "MoneyDeposited": (1, 0), "MoneyCredited": (1, 0), "MoneyWithdrawn": (-1, 0),
        "FundsHeld": (0, 1), "HoldReleased": (0, -1), "HoldCaptured": (-1, -1),
    }  # fmt: skip
    for stream_id, kind, data in query(url, rows.where(events.c.stream_type == "account")):
        on_balance, on_held = effects.get(kind, (0, 0))
        amount = data.get("amount", 0)
        folded[stream_id][0] += on_balance * amount
        folded[stream_id][1] += on_held * amount
    return {account: (balance, held) for account, (balance, held) in folded.items()}


def test_acknowledged_writes_survive_kill_9_and_read_models_rebuild_equal(
    embedded: Stack,
) -> None:
    web = embedded.serve()
    writer, acks = start_writer(embedded, embedded.directory / "writer.log")
    write_for_a_while(writer, acks)
    writer.send_signal(signal.SIGKILL)  # kill -9 everything, at once
    web.kill_tree()
    writer.wait(10)
    acks.join(10)
    assert acks.count >= ACKNOWLEDGED, (embedded.directory / "writer.log").read_text()[-3000:]

    url = database_url(embedded)
    stored = query(url, select(events.c.event_id, events.c.stream_id))
    assert set(acks.ids["deposit"]) <= {event_id for event_id, _ in stored}, "a deposit was lost"
    streams = {stream_id for _, stream_id in stored}
    assert set(acks.ids["transfer"]) | set(acks.ids["account"]) <= streams, "a stream was lost"

    web.start()
    pending = (
        select(func.count()).select_from(LIVE.transfers).where(LIVE.transfers.c.status == "pending")
    )
    wait_for(lambda: query(url, pending)[0][0] == 0, 60, "every transfer to end after restart")
    audit_read_side(embedded)
    summaries = {row[0]: (row[4], row[5]) for row in read_models(url)[LIVE.summaries.name]}
    assert summaries == balances_by_folding(url)
    assert all(held == 0 for _, held in summaries.values())
    checksum = hashlib.sha256(repr(read_models(url)).encode()).hexdigest()
    print(
        f"{event_count(url)} events ({len(stored)} at the kill), {acks.count} acknowledged writes"
    )
    print(f"read models checksum {checksum[:16]}")
