"""Entry points: what starts a hexbank process (the WSGI app, the `hexbank` CLI, gunicorn's
hooks, the background loops). They resolve everything from the container; no adapter imports
them, the container or the app."""
