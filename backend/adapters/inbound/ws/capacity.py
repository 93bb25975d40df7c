"""How many sockets a web process can hold: its file-descriptor limit (`ulimit -n`).

Each open WebSocket is one descriptor. When the process runs out, gunicorn's accept fails
(EMFILE) for HTTP and sockets alike, so the socket cap is kept below the limit, leaving room
for HTTP connections, database and Redis pools, log and metrics files.
"""

from __future__ import annotations

import logging
import resource
from typing import Final

log = logging.getLogger(__name__)

#: Descriptors kept for everything but WebSockets.
FD_RESERVE: Final = 1024


def raise_open_file_limit(sockets: int) -> int:
    """Raise the soft descriptor limit towards what `sockets` need (up to the hard limit,
    which only root or the service manager can raise); the soft limit it ends at."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning(
            "open file limit %d holds only %d WebSockets (HEXBANK_WS_SOCKETS=%d); raise the "
            "hard limit (ulimit -Hn, LimitNOFILE=, docker --ulimit nofile=)",
            soft,
            max(0, soft - FD_RESERVE),
            sockets,
        )
    return int(soft)


def socket_capacity(wanted: int) -> int:
    """`wanted` sockets, or fewer when the descriptor limit cannot hold them."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(0, min(wanted, soft - FD_RESERVE))
