"""Fan-out rules: push or pull, who receives what, in which chunks. No I/O."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from shared.events import AccountChanged

# Followers per server-side script call: large enough that the Python client's per-call
# cost is amortised, small enough that one call blocks Redis for only a few milliseconds.
PUSH_BATCH = 1000
# How many of an account's newest posts a new follower receives at once. (A switch to push
# and a reinstatement restore up to the feed cap: followers saw that many before.)
BACKFILL_POSTS = 50
# Followed accounts whose timelines a rebuild reads per round trip: with the feed cap of
# 800, at most 40,000 entries in flight per rebuild whatever the number of follows.
REBUILD_ACCOUNTS_PER_READ = 50
# Rebuilds one process runs at once (rebuild group and HTTP together): each holds at most
# a read's worth of entries (a few MiB), and they are Redis-bound, so more gain little.
REBUILDS_AT_ONCE = 4
# An account in pull mode goes back to push only below this share of the threshold, so
# an account hovering around the threshold does not flip on every follow.
PUSH_AGAIN_BELOW = 0.9


@dataclass(frozen=True)
class AccountMode:
    """How an account's posts reach its followers: pushed, or pulled at read time."""

    followers: int  # the account's active followers
    pull: bool  # whether the account is currently pulled at read time


@dataclass(frozen=True)
class AccountState:
    """An account as the projection holds it after a batch of follows."""

    followers: int
    pull: bool
    copy_pending: bool  # switched to push, its last timeline copy not known to be done
    suspended: bool


@dataclass(frozen=True)
class FollowsApplied:
    """The follows of a batch that are the stored state, and their accounts after it."""

    current: list[tuple[int, int, bool]]  # (account, user, following) of the stored state
    accounts: dict[int, AccountState]  # each account of `current`, after the batch


@dataclass(frozen=True)
class AccountApplied:
    """An account event that is the stored state."""

    event: AccountChanged  # the stored state of the account
    flipped: bool  # this delivery changed whether the account is suspended


@dataclass(frozen=True)
class Entry:
    """A post in a timeline: id, publish time (ms) and category."""

    post_id: bytes
    score: float
    category: str


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


EVERY_FOLLOWER = ChunkBounds(-1, None)


def merge_newest(entries: Sequence[tuple[bytes, float]], cap: int) -> list[tuple[bytes, float]]:
    """The `cap` newest distinct (post id, score) entries, newest first (a rebuilt feed)."""
    best: dict[bytes, float] = {}
    for member, score in entries:
        best[member] = max(score, best.get(member, score))
    ordered = sorted(best.items(), key=lambda e: (e[1], e[0]), reverse=True)
    return ordered[:cap]


FeedWork = Literal["remove", "restore"]


def account_work(suspended: bool, change: str, flipped: bool) -> FeedWork | None:
    """What an account event asks of its followers' feeds: while it is suspended its posts
    come out; on reinstatement (a flip back, or a redelivered `unsuspended`) they go back."""
    if suspended:
        return "remove"
    if flipped or change == "unsuspended":
        return "restore"
    return None


S = TypeVar("S")


@dataclass
class NewestEntries(Generic[S]):
    """The `cap` newest distinct (post id, score) entries offered so far, each with the
    source it came from, in feed order (score, then post id): a min-heap whose root is
    the oldest kept, so a merge of any number of timelines holds `cap` entries."""

    cap: int
    _heap: list[tuple[float, bytes, S]] = field(default_factory=list)
    _members: set[bytes] = field(default_factory=set)

    def floor(self) -> float | None:
        """The lowest score that can still get in once full (None: anything can)."""
        return self._heap[0][0] if len(self._heap) >= self.cap > 0 else None

    def offer(self, member: bytes, score: float, source: S) -> None:
        if member in self._members or self.cap <= 0:
            return
        if len(self._heap) < self.cap:
            heapq.heappush(self._heap, (score, member, source))
        elif (score, member) > self._heap[0][:2]:
            dropped = heapq.heapreplace(self._heap, (score, member, source))
            self._members.discard(dropped[1])
        else:
            return
        self._members.add(member)

    def newest(self) -> list[tuple[bytes, float, S]]:
        """What is kept, newest first."""
        ordered = sorted(self._heap, key=lambda e: (e[0], e[1]), reverse=True)
        return [(member, score, source) for score, member, source in ordered]
