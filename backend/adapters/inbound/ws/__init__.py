"""WebSocket inbound adapter: `/api/v1/ws` (flask-sock), per-user push fan-out."""
