"""Taking a connection from the HTTP server: it survives what the server does to its socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from backend.adapters.inbound.ws.handoff import take_connection


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, server:
        client.settimeout(5)
        yield client, server


def test_the_connection_survives_the_server_half_closing_and_closing_its_socket(
    tcp_pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = tcp_pair
    ours = take_connection(server)
    # What gunicorn's gthread does with the socket of a finished request (close_graceful).
    server.shutdown(socket.SHUT_WR)
    assert server.recv(16) == b""  # the placeholder: already finished, nothing to read
    server.close()

    with ours:
        client.sendall(b"ping")
        assert ours.recv(16) == b"ping"
        ours.sendall(b"pong")
        assert client.recv(16) == b"pong"
    assert client.recv(16) == b""  # our close is the connection's end
