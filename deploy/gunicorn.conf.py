"""gunicorn settings for hexbank: HTTP and WebSockets served by the same gthread workers.

    gunicorn -c deploy/gunicorn.conf.py

Everything comes from the HEXBANK_* environment through the same `gunicorn_options` that
`hexbank serve` uses, so the two never drift. On top of it:

- Threads are for HTTP only (HEXBANK_THREADS): an open WebSocket is handed, right after its
  upgrade, to one event-loop thread per worker that holds them all (up to HEXBANK_WS_SOCKETS,
  default 10,000, within the open-file limit, which is raised here towards that).
- graceful_timeout 5: open sockets would otherwise hold a shutdown for 30 s (gotcha 5);
  clients reconnect and re-read with GET.
- No control socket: its default path is shared by every gunicorn on the machine (gotcha 6).
- No preload: the push channel's subscriber thread starts in each worker, on its first
  socket (gotcha 7).
- Hooks (as `hexbank serve` sets them): on SIGTERM a worker closes its WebSockets with 1001,
  finishes in-flight requests, stops the background loops and drains in-process jobs
  (bounded); the master drops a dead worker's live gauges from the merged metrics.
- Prometheus multiprocess mode: PROMETHEUS_MULTIPROC_DIR when set, else a directory under
  HEXBANK_DATA_DIR emptied at start (`prepare_metrics_dir`).
"""

from __future__ import annotations

from backend.adapters.inbound.ws.capacity import raise_open_file_limit
from backend.config import Settings
from backend.entrypoints.cli.serve import gunicorn_options, prepare_metrics_dir

_settings = Settings.from_env()
_options = gunicorn_options(_settings)

wsgi_app = "backend.entrypoints.wsgi:app"
bind = _options["bind"]
workers = _options["workers"]
worker_class = "gthread"
threads = _options["threads"]
graceful_timeout = _options["graceful_timeout"]
control_socket_disable = _options["control_socket_disable"]
preload_app = False
logger_class = _options["logger_class"]
loglevel = _options["loglevel"]
accesslog = _options["accesslog"]
proc_name = _options["proc_name"]
post_worker_init = _options["post_worker_init"]
worker_exit = _options["worker_exit"]
child_exit = _options["child_exit"]

prepare_metrics_dir(_settings)
raise_open_file_limit(_settings.ws_sockets)
