"""gunicorn's own refusals answered as problem+json, like every other error of the service.

gunicorn refuses some requests before the app sees them: a request line over
limit_request_line (414), headers over limit_request_fields or limit_request_field_size (431),
control characters in a header value, bad chunking or a request that is not HTTP (400). It
writes those with `gunicorn.util.write_error`, as HTML; every worker class goes through that
one function, so replacing it (in each worker, from post_worker_init) is the one place to
give clients the same problem+json body as the app's own 4xx.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

from backend.adapters.inbound.http.input_policy import printable
from backend.adapters.inbound.http.problem_types import problem_type_for_status

PROBLEM_JSON = "application/problem+json"
#: gunicorn's message quotes what it refused: enough of it to recognise, not an echo of all.
MAX_DETAIL = 200


def install() -> None:
    """Make gunicorn write its own error responses as problem+json (call in the worker)."""
    util.write_error = write_problem


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """The problem+json twin of gunicorn.util.write_error (same arguments, same framing)."""
    util.write_nonblock(sock, problem_bytes(status_int, reason, mesg))


def problem_bytes(status: int, reason: str, message: str) -> bytes:
    kind = problem_type_for_status(status)
    problem = {"type": f"/problems/{kind.slug}", "title": kind.title, "status": status}
    if message:
        problem["detail"] = printable(message)[:MAX_DETAIL]
    body = json.dumps(problem).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body
