"""Helpers for operations tests against live servers: scraping, JSON logs, raw sockets."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import ClientConnection, connect

from tests.live_stack import Stack, User

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(exposition: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def scrape(base_url: str) -> Samples:
    """Every sample `/metrics` shows."""
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return samples_of(response.text)


def value(seen: Samples, name: str, **labels: str) -> float | None:
    return seen.get((name, frozenset(labels.items())))


def json_lines(log: str) -> list[dict[str, Any]]:
    """The JSON log lines of a process's output (anything else, e.g. a traceback, skipped)."""
    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/api/v1/ws"


@contextmanager
def authenticated_socket(http_url: str, user: User) -> Iterator[ClientConnection]:
    """A WebSocket on which `user` authenticated and got `ready`."""
    with connect(ws_url(http_url), open_timeout=10, close_timeout=2) as ws:
        ws.send(json.dumps({"type": "auth", "access_token": user.access_token}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "ready"}
        yield ws


def stop_together(stack: Stack) -> None:
    """SIGTERM every process of `stack` at once, then wait for each (the fixture's teardown
    stops them one after the other, each waiting out its graceful stop)."""
    running = [process for process in stack.processes if process.running]
    for process in running:
        process.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    for process in running:
        process.stop()
