"""Inbound adapters: HTTP, WebSocket, worker and CLI entry points."""
