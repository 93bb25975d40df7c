"""Real hexbank processes for end-to-end tests: `hexbank serve` and `hexbank worker` run as
subprocesses exactly as an operator runs them, configured only through the environment.

A `Stack` is one deployment: a data directory, a database (SQLite by default, or a PostgreSQL
schema) and, for distributed mode, a Redis URL and key prefix shared by all its processes.
Processes can be stopped (SIGTERM), killed (SIGKILL) and restarted, for crash tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.conftest import TEST_SECRET_KEY

HEXBANK = str(Path(sys.executable).with_name("hexbank"))
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """The ids of every live process below `pid` (read from /proc; Linux only)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses: fields follow the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


#: A server starts in a few seconds, but in far more on a loaded CI machine: the deadline only
#: bounds a hang (waiting ends as soon as /healthz answers).
STARTUP_SECONDS = 90


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Process:
    """One hexbank subprocess, its output going to a log file the test can read."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the crash a test injects."""
        self._end(signal.SIGKILL, 10)

    def kill_tree(self) -> None:
        """SIGKILL this process and every process below it at once (gunicorn's master and
        its workers): the whole server dies, as when its machine loses power."""
        if self.popen is None or self.popen.poll() is not None:
            return
        for pid in [self.popen.pid, *descendants(self.popen.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _end(self, sig: int, timeout: float) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(10)


@dataclass
class Server(Process):
    """`hexbank serve` on its own port."""

    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        super().start()
        what = f"{self.name} to answer /healthz\n{self.log()[-3000:]}"
        wait_for(self._healthy, STARTUP_SECONDS, what)
        return self

    def _healthy(self) -> bool:
        if not self.running:
            raise AssertionError(f"{self.name} exited:\n{self.log()[-3000:]}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # a busy machine: still starting
            return False


@dataclass
class Stack:
    """One hexbank deployment made of real processes sharing one configuration."""

    directory: Path
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HEXBANK_")}
        env |= {
            "HEXBANK_ENV": "test",
            "HEXBANK_DATA_DIR": str(self.directory / "var"),
            "HEXBANK_SECRET_KEY": TEST_SECRET_KEY,
            "HEXBANK_LOG_FORMAT": "json",
        }
        if self.database_url:
            env["HEXBANK_DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["HEXBANK_REDIS_URL"] = self.redis_url
            env["HEXBANK_REDIS_PREFIX"] = self.redis_prefix or f"t{uuid.uuid4().hex[:8]}:"
        return env | self.extra_env

    def migrate(self) -> None:
        subprocess.run(
            [HEXBANK, "migrate"], env=self.env, check=True, capture_output=True, timeout=120
        )

    def serve(self, name: str = "web", **extra_env: str) -> Server:
        port = free_port()
        argv = [HEXBANK, "serve", "--port", str(port)]
        server = Server(name, argv, self.env | extra_env, self._log(name), port=port)
        self.processes.append(server)
        return server.start()

    def worker(self, name: str = "worker", **extra_env: str) -> Process:
        process = Process(name, [HEXBANK, "worker"], self.env | extra_env, self._log(name))
        self.processes.append(process)
        return process.start()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()}" for p in self.processes)

    def _log(self, name: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{name}.log"


@dataclass
class User:
    """A registered, signed-in user of a live server."""

    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Client:
    """A small HTTP client for a live server's API, failing loudly on unexpected answers."""

    base_url: str
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> Any:
        headers = {**(user.auth if user else {}), **kwargs.pop("headers", {})}
        url = f"{self.base_url}/api/v1{path}"
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def expect(
        self, status: int, method: str, path: str, user: User | None = None, **kw: Any
    ) -> Any:
        response = self.call(method, path, user, **kw)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def register(self, email: str | None = None) -> User:
        email = email or f"{uuid.uuid4().hex[:12]}@example.com"
        self.expect(201, "POST", "/users", json={"email": email, "password": PASSWORD, "name": "T"})
        tokens = self.expect(
            200, "POST", "/auth/token", json={"email": email, "password": PASSWORD}
        )
        return User(email, tokens["access_token"], tokens["refresh_token"])

    def open_account(self, user: User, currency: str = "EUR", deposit: int = 0) -> str:
        account = self.expect(
            201, "POST", "/accounts", user, json={"name": "A", "currency": currency}
        )
        if deposit:
            path = f"/accounts/{account['id']}/deposits"
            self.expect(201, "POST", path, user, json={"amount": deposit})
        return str(account["id"])

    def account(self, user: User, account_id: str) -> dict[str, Any]:
        return dict(self.expect(200, "GET", f"/accounts/{account_id}", user))

    def transfer(self, user: User, source: str, target: str, amount: int) -> dict[str, Any]:
        """Request a transfer, as a careful client does: with an Idempotency-Key, retried when
        the connection drops before the answer (say a kept-alive connection the server closed
        as the request went out); a retry of one that got through replays its 202."""
        body = {"source_account_id": source, "target_account_id": target, "amount": amount}
        headers = {"Idempotency-Key": uuid.uuid4().hex}

        def post() -> dict[str, Any]:
            return dict(self.expect(202, "POST", "/transfers", user, json=body, headers=headers))

        for _ in range(2):
            with contextlib.suppress(requests.ConnectionError):
                return post()
        return post()  # a third failure is the caller's

    def transfer_status(self, user: User, transfer_id: str) -> dict[str, Any]:
        return dict(self.expect(200, "GET", f"/transfers/{transfer_id}", user))

    def wait_terminal(self, user: User, transfer_id: str, timeout: float = 30) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def terminal() -> bool:
            seen.update(self.transfer_status(user, transfer_id))
            return bool(seen["status"] != "pending")

        wait_for(terminal, timeout, f"transfer {transfer_id} to end")
        return seen

    def transactions(self, user: User, account_id: str) -> Iterator[dict[str, Any]]:
        """Every transaction of the account, following next_cursor."""
        cursor: str | None = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.expect(
                200, "GET", f"/accounts/{account_id}/transactions", user, params=params
            )
            yield from page["items"]
            if not (cursor := page["next_cursor"]):
                return
