"""WSGI entry point for servers given an import path
(`gunicorn backend.entrypoints.wsgi:app`)."""

from __future__ import annotations

from backend.entrypoints.server import create_server_app

# An entry point: building the app at import time is its whole job.
app = create_server_app()
