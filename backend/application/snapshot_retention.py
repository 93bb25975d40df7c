"""Which of a stream's snapshots to keep: every recent one, thinned out with age.

A stream is snapshotted every `every` versions (its snapshot's "index" is version // every).
Loading an aggregate needs only the latest; `as_of` folds from the latest snapshot at or before
the instant, so older snapshots make old instants cheap. Keeping all of them would cost one row
per `every` events forever, so they thin out geometrically: the RECENT latest are all kept,
then, RECENT·2^(k-1) to RECENT·2^k indexes back, only every 2^k-th index. A stream with n
snapshots keeps about RECENT + RECENT/2 · log2(n / RECENT) of them (60 for a million events
at the default 100), and an instant d indexes back folds at most about 2·d/RECENT indexes of
events past its snapshot. A snapshot dropped once is never wanted again (the rule only gets
stricter as the stream grows), so pruning after each new snapshot keeps the set exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: Snapshots kept without thinning, the latest first.
RECENT: Final = 10


def superseded(versions: Sequence[int], every: int, recent: int = RECENT) -> list[int]:
    """The versions among a stream's kept snapshots (`versions`) that are no longer worth
    keeping, given a snapshot every `every` versions; the latest is always kept."""
    if not versions:
        return []
    latest = max(versions) // every
    return [v for v in versions if not _kept(v // every, latest, recent)]


def _kept(index: int, latest: int, recent: int) -> bool:
    back = latest - index
    if back < recent:
        return True
    level = (back // recent).bit_length()  # back in [recent·2^(level-1), recent·2^level)
    return index % (1 << level) == 0
