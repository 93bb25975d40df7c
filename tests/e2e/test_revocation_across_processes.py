"""Logout revokes at once in every web process of a distributed deployment, though each
process checks tokens against its own copy of the denylist (kept through Redis)."""

from __future__ import annotations

import pytest

from tests.live_stack import Client, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

LOGINS = 5


def test_a_logout_in_one_process_is_refused_by_the_other_at_once(
    distributed_stack: Stack,
) -> None:
    here = Client(distributed_stack.serve("web-a").url)
    there = Client(distributed_stack.serve("web-b").url)
    for _ in range(LOGINS):
        user = here.register()
        there.expect(200, "GET", "/accounts", user)  # accepted there, from its copy
        here.expect(204, "POST", "/auth/logout", user, json={"refresh_token": user.refresh_token})
        there.expect(401, "GET", "/accounts", user)  # the very next request, no waiting
        here.expect(401, "GET", "/accounts", user)
