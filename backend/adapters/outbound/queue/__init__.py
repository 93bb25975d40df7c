"""Job queue adapters: in-process (embedded mode) and rq on Redis (distributed mode)."""
