"""The topology of `make run-distributed`, through nginx: two `hexbank serve` behind a local
nginx (deploy/local/nginx.conf.template), two `hexbank worker`, PostgreSQL and Redis.

The bank workload runs through nginx (concurrent transfers, money conserved, all terminal),
both web processes take part, and a WebSocket upgraded by nginx receives pushes.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from tests.e2e.bank_audit import BANK_TRANSFERS, run_bank_workload
from tests.e2e.bank_workload import open_bank
from tests.live_stack import Process, Server, Stack, free_port, wait_for
from tests.ops.live import scrape, stop_together

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

TEMPLATE = Path(__file__).parents[2] / "deploy" / "local" / "nginx.conf.template"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        message = "nginx is not installed (apt-get install -y nginx; .ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: required)", pytrace=False)
        pytest.skip(message)
    return found


def render_nginx(prefix: Path, listen: str, web_ports: list[int]) -> Path:
    """The template filled in as deploy/local/run-distributed.sh fills it."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in web_ports)
    values = {
        "prefix": str(prefix),
        "listen": listen,
        "servers": servers,
        "user": "user root;" if os.geteuid() == 0 else "",
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    (prefix / "nginx.conf").write_text(text)
    return prefix / "nginx.conf"


def start_nginx(stack: Stack, binary: str, web: list[Server]) -> str:
    port, prefix = free_port(), stack.directory / "nginx"
    render_nginx(prefix, f"127.0.0.1:{port}", [server.port for server in web])
    argv = [binary, "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr"]
    nginx = Process("nginx", argv, stack.env, stack.directory / "nginx.log")
    stack.processes.append(nginx.start())
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert nginx.running, nginx.log()
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(answering, 15, "nginx to proxy /healthz")
    return url


def test_the_bank_workload_through_nginx_in_front_of_two_web_processes_and_two_workers(
    distributed_stack: Stack,
) -> None:
    binary = nginx_binary()
    metrics_ports = [free_port(), free_port()]
    with ThreadPoolExecutor(4) as pool:  # start-ups overlap
        workers = [
            pool.submit(distributed_stack.worker, f"worker-{n}", HEXBANK_METRICS_PORT=str(port))
            for n, port in enumerate(metrics_ports, 1)
        ]
        web = list(pool.map(distributed_stack.serve, ["web-1", "web-2"]))
        assert all(worker.result().running for worker in workers)
    url = start_nginx(distributed_stack, binary, web)
    assert requests.get(f"{url}/metrics", timeout=5).status_code == 404  # not for the public

    bank = open_bank(url)
    alice = bank.users[0]
    ws_url = url.replace("http://", "ws://") + "/api/v1/ws"
    with connect(ws_url, open_timeout=10, close_timeout=2) as ws:
        ws.send(json.dumps({"type": "auth", "access_token": alice.access_token}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "ready"}
        run_bank_workload(bank, seed=3)  # the bank test of Transfers, every request via nginx
        pushed = json.loads(ws.recv(timeout=10))  # Alice owns accounts the transfers touched
    assert pushed["type"] in ("account.updated", "transfer.updated"), pushed

    # nginx spread the requests: both web processes served transfers.
    for server in web:
        assert '"path": "/api/v1/transfers"' in server.log(), f"{server.name} served none"
    # The workers ran the sagas: their own metrics endpoints count every transfer's end.
    wait_for(lambda: counted(metrics_ports) >= BANK_TRANSFERS, 20, "the workers to count every end")
    stop_together(distributed_stack)


def counted(metrics_ports: list[int]) -> float:
    """Transfers the workers counted as finished, all statuses and reasons."""
    total = 0.0
    for port in metrics_ports:
        for (name, _labels), seen in scrape(f"http://127.0.0.1:{port}").items():
            if name == "hexbank_transfers_finished_total":
                total += seen
    return total
