"""RecentValues: what a process remembers of ended transfers and published views."""

from __future__ import annotations

from backend.application.bounded import RecentValues


def test_only_the_keys_written_last_are_remembered() -> None:
    ended = RecentValues[str, str](size=2)
    for transfer_id, status in (("t-1", "completed"), ("t-2", "failed"), ("t-3", "completed")):
        ended.put(transfer_id, status)
    assert [ended.get(t) for t in ("t-1", "t-2", "t-3")] == [None, "failed", "completed"]


def test_writing_a_key_again_makes_it_the_newest() -> None:
    seen = RecentValues[str, int](size=2)
    seen.put("a", 1)
    seen.put("b", 2)
    seen.put("a", 3)
    seen.put("c", 4)
    assert [seen.get(k) for k in ("a", "b", "c")] == [3, None, 4]
