"""R17 sockets never starve HTTP: thousands of open WebSockets on one real web process while
HTTP on that process keeps its latency; sockets that never send `auth` are closed at 5 s; a
ping flood is cut off by the per-socket budget; socket connects count against
HEXBANK_RATE_LIMIT.

The crowd: authenticated sockets that stay open, a steady stream of sockets that never
authenticate (each reconnects after a random pause once closed, as clients back off), and a few
flooders. Sockets that never authenticate live 5 s, so holding W of them open means W/5
connects a second; a connect costs the server about what an HTTP request does (1-2 ms of CPU),
so that stream is a request rate (HEXBANK_RATE_LIMIT's business), not an open-socket cost:
here a tenth of the crowd, the rest authenticated.

Bounded in `make test` (SOCKETS open at once); `make soak` holds 5,000 for the soak's length.
Each run prints its figures: HTTP p95 idle (measured before and after) and with the sockets.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.adapters.outbound.security.jwt_tokens import JwtTokenIssuer
from backend.application.ports.tokens import AccessClaims
from tests.conftest import TEST_SECRET_KEY
from tests.live_stack import Client, Server, Stack, User, descendants, wait_for
from tests.reliability.socket_load import CrowdProcess, CrowdStats, SocketCrowd
from tests.reliability.stacks import duration, soak_seconds

pytestmark = pytest.mark.e2e

SOCKETS = 5_000 if soak_seconds() else 1_500
#: Unauthenticated sockets open at any moment (a fifth of them connecting each second).
WAITING = SOCKETS // 10
FLOODERS = 3
PER_USER = 10  # the per-user cap
PROBES = 200
AUTH_TIMEOUT = 5.0
#: Long enough for the sockets that never authenticate to be closed and reconnect twice.
LOADED_SECONDS = 3 * AUTH_TIMEOUT


def timed_reads(client: Client, user: User, count: int = PROBES) -> list[float]:
    """Seconds taken by each of `count` authenticated reads, one after another."""
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        client.expect(200, "GET", "/users/me", user)
        seconds.append(time.perf_counter() - started)
    return seconds


def p95_ms(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=100)[94] * 1000


def access_tokens(users: int, each: int) -> list[str]:
    """`each` tokens for each of `users` new user ids, signed as the server signs them
    (registering thousands of users would cost minutes of password hashing)."""
    issuer, now = JwtTokenIssuer(TEST_SECRET_KEY), datetime.now(UTC)
    tokens = []
    for _ in range(users):
        user_id = str(uuid.uuid4())
        claims = AccessClaims(
            user_id, uuid.uuid4().hex, uuid.uuid4().hex, now, now + timedelta(hours=1)
        )
        tokens += [issuer.issue(claims)] * each
    return tokens


@pytest.fixture
def crowds() -> Iterator[list[SocketCrowd | CrowdProcess]]:
    made: list[SocketCrowd | CrowdProcess] = []
    yield made
    for crowd in made:
        if isinstance(crowd, CrowdProcess):
            crowd.kill()
        else:
            crowd.stop()


def web_process(stack: Stack, mode: str, **env: str) -> Server:
    # Fewer HTTP threads than the default make starvation by sockets, were it possible, quick.
    return stack.serve(f"web-{mode}", HEXBANK_THREADS="8", **env)


def resident_mib(server: Server) -> float:
    """Resident memory of the server's worker process (gunicorn's master forks one)."""
    assert server.popen is not None
    worker = descendants(server.popen.pid)[0]
    status = Path(f"/proc/{worker}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def open_at_once(crowd: SocketCrowd) -> int:
    return crowd.stats.upgraded - len(crowd.stats.closed)


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
def test_thousands_of_sockets_leave_http_latency_alone(
    mode: str, request: pytest.FixtureRequest, crowds: list[SocketCrowd | CrowdProcess]
) -> None:
    stack: Stack = request.getfixturevalue(mode)
    web = web_process(stack, mode)
    client = Client(web.url)
    prober = client.register()
    idle_before, memory_before = p95_ms(timed_reads(client, prober)), resident_mib(web)

    sitting = SOCKETS - WAITING - FLOODERS
    plan = {
        "authenticated": access_tokens(sitting // PER_USER, PER_USER),
        "flooders": access_tokens(FLOODERS, 1),
        # A tenth more clients than WAITING: each spends part of its time reconnecting.
        "waiting": WAITING + WAITING // 10,
        "spread": AUTH_TIMEOUT,
    }
    crowd = CrowdProcess(web.port, plan)
    crowds.append(crowd)
    wait_for(lambda: crowd.open_now >= 0.9 * SOCKETS, 120, f"{SOCKETS} sockets open")
    samples: list[float] = []
    held = []
    deadline = time.monotonic() + duration(LOADED_SECONDS)
    while time.monotonic() < deadline:
        samples += timed_reads(client, prober, PROBES // 4)
        held.append(crowd.open_now)
    memory = resident_mib(web) - memory_before
    stats = crowd.stop()
    idle_after = p95_ms(timed_reads(client, prober))

    # The machine's own load varies: idle is measured on both sides of the loaded period.
    idle, loaded = max(idle_before, idle_after), p95_ms(samples)
    print(
        f"R17 {mode}: HTTP p95 idle {idle_before:.1f}/{idle_after:.1f} ms, "
        f"with {min(held)}-{max(held)} sockets open {loaded:.1f} ms ({len(samples)} reads), "
        f"+{memory:.0f} MiB resident; "
        f"closes {Counter((c.kind, c.code) for c in stats.closed)}"
    )
    assert min(held) >= 0.9 * SOCKETS
    assert loaded <= 2 * idle and loaded < 200
    assert_unauthenticated_closed_at_the_deadline(stats)
    assert stats.closes("authenticated") == []  # all still open when the crowd stopped
    flood_closes = [c.code for c in stats.closes("flooder") if c.code is not None]
    assert flood_closes and set(flood_closes) == {1008}


def assert_unauthenticated_closed_at_the_deadline(stats: CrowdStats) -> None:
    waited = stats.closes("waiting")
    ended = [c for c in waited if c.code is not None]
    assert len(ended) >= WAITING, len(ended)
    assert {c.code for c in ended} == {4401}
    # Never early. Late only by what a busy machine adds to the crowd's own reading (thousands
    # of sockets in one client process): most within a second, none unbounded. The in-process
    # test (tests/e2e/test_websocket.py) holds the server's timer to 5-7 s.
    after = sorted(c.after for c in ended)
    assert after[0] >= AUTH_TIMEOUT - 0.1, after[:5]
    assert statistics.median(after) <= AUTH_TIMEOUT + 1, statistics.median(after)
    assert after[-1] <= AUTH_TIMEOUT + 10, after[-5:]


def test_socket_connects_count_against_the_rate_limit(
    embedded: Stack, crowds: list[SocketCrowd | CrowdProcess]
) -> None:
    web = web_process(embedded, "embedded", HEXBANK_RATE_LIMIT="20/minute")
    crowd = SocketCrowd(web.port)
    crowds.append(crowd)

    crowd.open_waiting(30)
    wait_for(lambda: crowd.stats.upgraded + len(crowd.stats.refused) == 30, 30, "30 connects")

    assert crowd.stats.upgraded == 20
    assert crowd.stats.refused == [429] * 10
    # The same budget as HTTP requests from that address.
    response = Client(web.url).call("GET", "/accounts")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
