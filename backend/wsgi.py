"""WSGI entry point for servers given an import path (`gunicorn backend.wsgi:app`)."""

from __future__ import annotations

from backend.app import create_server_app

# An entry point: building the app at import time is its whole job.
app = create_server_app()
