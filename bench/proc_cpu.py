"""CPU seconds of a deployment, read from /proc: its processes (and their children) and the
PostgreSQL backends serving it (found by the `application_name` its connections carry).

The PostgreSQL server is shared with other users of the machine, so only the backends whose
connections name this deployment are counted; its background processes (WAL writer,
checkpointer, autovacuum) are left out, as they would be of the baseline too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.live_stack import descendants

TICKS = os.sysconf("SC_CLK_TCK")


def with_application_name(url: str, name: str) -> str:
    """`url` whose connections call themselves `name` in pg_stat_activity."""
    parsed = make_url(url)
    return parsed.update_query_dict({"application_name": name}).render_as_string(
        hide_password=False
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one live process (0 once it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return 0.0


def backend_pids(database_url: str, application_name: str) -> set[int]:
    """PostgreSQL backends of the connections named `application_name`."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
            return {int(pid) for (pid,) in rows}
    finally:
        engine.dispose()


@dataclass
class CpuMeter:
    """CPU used between `start` and `stop` by process trees and named PostgreSQL backends."""

    roots: Iterable[int]
    database_url: str | None = None
    application_name: str | None = None
    _before: dict[int, float] = field(default_factory=dict)
    #: How many processes the last `stop` counted (shown beside the figures).
    counted: int = 0

    def pids(self) -> set[int]:
        found = {pid for root in self.roots for pid in (root, *descendants(root))}
        if self.database_url and self.application_name:
            found |= backend_pids(self.database_url, self.application_name)
        return found

    def start(self) -> None:
        self._before = {pid: cpu_seconds(pid) for pid in self.pids()}

    def stop(self) -> float:
        """Seconds of CPU since `start` (a process started meanwhile counts from its start)."""
        pids = self.pids()
        self.counted = len(pids)
        return sum(cpu_seconds(pid) - self._before.get(pid, 0.0) for pid in pids)
