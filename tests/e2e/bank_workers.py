"""`hexbank worker` processes that crash tests start, kill -9 and restart, and the check that
no process forked by a killed worker outlives it."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.live_stack import STARTUP_SECONDS, Process, Stack, wait_for

LISTENING = "*** Listening on"  # rq's log line once a worker has started taking jobs


def start_workers(stack: Stack, count: int) -> list[Process]:
    """`count` `hexbank worker` processes, started together, once each has relayed the
    backlog and listens on the queue."""
    workers = [stack.worker(f"worker-{n}") for n in range(1, count + 1)]
    wait_for(
        lambda: all(_listening(w, 1) for w in workers), STARTUP_SECONDS, "the workers to listen"
    )
    return workers


def _listening(worker: Process, starts: int) -> bool:
    # Its log is appended to across restarts: the n-th start has logged the line n times.
    assert worker.running, worker.log()[-3000:]
    return worker.log().count(LISTENING) >= starts


@dataclass
class Workers:
    """`hexbank worker` processes that a test kills (-9) and restarts."""

    stack: Stack
    processes: list[Process]
    starts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def start(cls, stack: Stack, count: int) -> Workers:
        processes = start_workers(stack, count)
        return cls(stack, processes, Counter(p.name for p in processes))

    def working(self) -> list[Process]:
        return [p for p in self.processes if _listening(p, self.starts[p.name])]

    def crash_one(self, rng: random.Random) -> None:
        """kill -9 a random worker that is taking jobs and start it again at once (without
        waiting for it: the next crash may come while it is still starting)."""
        wait_for(lambda: bool(self.working()), STARTUP_SECONDS, "a worker taking jobs")
        victim = rng.choice(self.working())
        # Only the worker's own pid: its forks (rq's scheduler) must die with it by themselves.
        victim.kill()
        victim.start()
        self.starts[victim.name] += 1

    def wait_working(self) -> None:
        wait_for(
            lambda: len(self.working()) == len(self.processes), STARTUP_SECONDS, "every worker up"
        )

    def strays(self) -> list[int]:
        """Processes of this deployment that outlived their parent, e.g. rq's scheduler
        forked by a killed worker (it would hold the worker's database connections, and the
        transactions open on them, forever)."""
        marker = f"HEXBANK_DATA_DIR={self.processes[0].env['HEXBANK_DATA_DIR']}".encode()
        live = [p.popen for p in self.stack.processes if p.popen is not None and p.running]
        ours = {popen.pid for popen in live}
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    pid, parent = int(proc.name), _parent_pid(proc)
                    if pid not in ours and parent not in ours:
                        found.append(pid)
        return found


def _parent_pid(proc: Path) -> int:
    status = (proc / "status").read_text()
    return int(status.split("\nPPid:")[1].split()[0])
