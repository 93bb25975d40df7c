"""Operations tests reuse the live deployments of the end-to-end suite."""

from __future__ import annotations

from tests.e2e.conftest import distributed_stack, embedded_stack

__all__ = ["distributed_stack", "embedded_stack"]
