"""Redis adapters: token denylist and rate-limit counters for distributed mode."""
