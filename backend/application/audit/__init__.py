"""Tamper evidence: re-check every stream's hash chain and every read-model row against the log."""
