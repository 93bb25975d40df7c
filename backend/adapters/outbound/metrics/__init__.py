"""Observability adapters: Prometheus metrics, scrape-time collectors, command and job logging."""
