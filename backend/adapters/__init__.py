"""Adapters: the only code that knows about frameworks, databases and queues."""
