"""Fan-out rules: push or pull, who receives what, in which chunks. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Followers per server-side script call: large enough that the Python client's per-call
# cost is amortised, small enough that one call blocks Redis for only a few milliseconds.
PUSH_BATCH = 1000
# Followers per work-topic message: a post of an account with more followers is split
# into chunks that every fanout process of the group shares; a crash redoes one chunk.
DEFAULT_CHUNK = 5000
# How many of an account's newest posts a new follower receives at once.
BACKFILL_POSTS = 50
# An account in pull mode goes back to push only below this share of the threshold, so
# an account hovering around the threshold does not flip on every follow.
PUSH_AGAIN_BELOW = 0.9


@dataclass(frozen=True)
class ModeChange:
    """What an account's mode must become after its follower count changed."""

    to_pull: bool


def mode_change(followers: int, pull: bool, threshold: int) -> ModeChange | None:
    """Accounts with `threshold` followers or more are pulled at read time; they return
    to push only below PUSH_AGAIN_BELOW of it."""
    if not pull and followers >= threshold:
        return ModeChange(to_pull=True)
    if pull and followers < threshold * PUSH_AGAIN_BELOW:
        return ModeChange(to_pull=False)
    return None


@dataclass(frozen=True)
class ChunkBounds:
    """Followers with after_user < user_id <= through_user (None: no upper bound)."""

    after_user: int
    through_user: int | None


def merge_newest(entries: Sequence[tuple[bytes, float]], cap: int) -> list[tuple[bytes, float]]:
    """The `cap` newest distinct (post id, score) entries, newest first (a rebuilt feed)."""
    best: dict[bytes, float] = {}
    for member, score in entries:
        best[member] = max(score, best.get(member, score))
    ordered = sorted(best.items(), key=lambda e: (e[1], e[0]), reverse=True)
    return ordered[:cap]
