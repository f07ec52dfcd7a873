"""In-memory fakes of fan-out's ports (services.fanout.ports), as cosmicpython's
FakeRepository: the same contracts as the Postgres projection and the Redis feeds,
held in dicts. Both may share a `journal` of the writes that order matters for, and
`fail_once(method)` makes the next call of a method raise, as a lost Redis would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from services.fanout.domain import (
    EVERY_FOLLOWER,
    AccountApplied,
    AccountMode,
    AccountState,
    ChunkBounds,
    Entry,
    FollowsApplied,
    merge_newest,
)
from shared.events import AccountChanged, Contract, FollowChanged, newest_per_entity


class Outage(ConnectionError):
    """What a fake raises where the real store would lose its server."""


class Faulty:
    """`fail_once(name)`: the next call of that method raises Outage."""

    def __init__(self) -> None:
        self._failing: set[str] = set()

    def fail_once(self, method: str) -> None:
        self._failing.add(method)

    def _maybe_fail(self, method: str) -> None:
        if method in self._failing:
            self._failing.discard(method)
            raise Outage(f"{method} failed (test)")


@dataclass
class Account:
    followers: int = 0
    pull: bool = False
    copy_pending: bool = False
    suspended: bool = False
    version: int = 0  # of the stored account event (0: none)


class FakeFollowProjection(Faulty):
    """services.fanout.projection.Projection in memory."""

    def __init__(self, journal: list[tuple] | None = None) -> None:
        super().__init__()
        self.journal = journal if journal is not None else []
        self.follows: dict[tuple[int, int], tuple[bool, int]] = {}  # (account, user)
        self.accounts: dict[int, Account] = {}
        self.deleted: set[int] = set()

    def _account(self, account_id: int) -> Account:
        return self.accounts.setdefault(account_id, Account())

    def _state(self, account_id: int) -> AccountState:
        a = self._account(account_id)
        return AccountState(a.followers, a.pull, a.copy_pending, a.suspended)

    async def apply_follows(self, events: list[FollowChanged]) -> FollowsApplied:
        current = []
        for e in newest_per_entity(events):
            pair = (int(e.account_id), int(e.user_id))
            was_active, version = self.follows.get(pair, (False, 0))
            if version < e.version:
                self.follows[pair] = (e.following, e.version)
                if was_active != e.following:
                    self._account(pair[0]).followers += 1 if e.following else -1
            elif version > e.version:
                continue  # superseded: the newer event did the work
            current.append((pair[0], pair[1], e.following))
        return FollowsApplied(current, {a: self._state(a) for a, _, _ in current})

    async def apply_accounts(self, events: list[AccountChanged]) -> list[AccountApplied]:
        applied = []
        for e in newest_per_entity(events):
            account = self._account(int(e.account_id))
            suspended = e.status == "suspended"
            if account.version > e.version:
                continue
            flipped = account.version < e.version and account.suspended != suspended
            account.version, account.suspended = e.version, suspended
            applied.append(AccountApplied(e, flipped))
        return applied

    async def account_version(self, account_id: int) -> int:
        return self._account(account_id).version

    async def is_suspended(self, account_id: int) -> bool:
        return self._account(account_id).suspended

    async def mode(self, account_id: int) -> AccountMode:
        return AccountMode(self._account(account_id).followers, self._account(account_id).pull)

    async def set_mode(self, account_id: int, pull: bool, copy_pending: bool = False) -> None:
        self.journal.append(("set_mode", account_id, pull, copy_pending))
        account = self._account(account_id)
        account.pull, account.copy_pending = pull, copy_pending

    def _followers(self, account_id: int, bounds: ChunkBounds) -> list[int]:
        return sorted(
            user
            for (account, user), (active, _) in self.follows.items()
            if account == account_id
            and active
            and user > bounds.after_user
            and (bounds.through_user is None or user <= bounds.through_user)
        )

    async def chunk_end(self, account_id: int, after_user: int, size: int) -> int | None:
        users = self._followers(account_id, ChunkBounds(after_user, None))
        return users[size - 1] if len(users) >= size else None

    async def followers_in(
        self, account_id: int, bounds: ChunkBounds, limit: int | None = None
    ) -> list[int]:
        return self._followers(account_id, bounds)[:limit]

    async def follower_chunks(
        self, account_id: int, size: int, bounds: ChunkBounds = EVERY_FOLLOWER
    ) -> AsyncIterator[list[int]]:
        users = self._followers(account_id, bounds)
        for start in range(0, len(users), size):
            yield users[start : start + size]

    async def followed_accounts(self, user_id: int) -> list[int]:
        return [
            account
            for (account, user), (active, _) in self.follows.items()
            if user == user_id and active
            if not self._account(account).pull and not self._account(account).suspended
        ]

    async def mark_deleted(self, post_id: int) -> None:
        self.deleted.add(post_id)

    async def is_deleted(self, post_id: int) -> bool:
        return post_id in self.deleted


@dataclass
class FakeFeedWrites(Faulty):
    """services.fanout.feeds.FeedWriter in memory: a feed is {post id: (score, category)};
    `active` holds the users with an activity marker, `ready` those marked ready."""

    feed_cap: int = 800
    journal: list[tuple] = field(default_factory=list)
    active: set[int] = field(default_factory=set)
    ready: set[int] = field(default_factory=set)
    pulled: set[int] = field(default_factory=set)
    timelines: dict[int, dict[bytes, tuple[float, str]]] = field(default_factory=dict)
    feeds: dict[int, dict[bytes, tuple[float, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Faulty.__init__(self)

    def feed(self, user_id: int) -> list[bytes]:
        """The user's feed, newest first."""
        held = self.feeds.get(user_id, {})
        return sorted(held, key=lambda m: (held[m][0], m), reverse=True)

    def _add(self, held: dict[bytes, tuple[float, str]], entries: Sequence[Entry]) -> None:
        for e in entries:
            held[e.post_id] = (e.score, e.category)
        for member in sorted(held, key=lambda m: (held[m][0], m), reverse=True)[self.feed_cap :]:
            del held[member]

    async def add_to_timeline(
        self, account_id: int, category: str, post_id: int, score: int
    ) -> None:
        entry = Entry(str(post_id).encode(), score, category)
        self._add(self.timelines.setdefault(account_id, {}), [entry])

    async def remove_from_timeline(self, account_id: int, category: str, post_id: int) -> None:
        self.timelines.get(account_id, {}).pop(str(post_id).encode(), None)

    async def timeline(self, account_id: int, count: int) -> list[Entry]:
        held = self.timelines.get(account_id, {})
        newest = sorted(held, key=lambda m: (held[m][0], m), reverse=True)[:count]
        return [Entry(m, *held[m]) for m in newest]

    async def newest_of_timelines(self, accounts: Sequence[int], count: int) -> list[Entry]:
        entries = [e for a in accounts for e in await self.timeline(a, count)]
        category = {e.post_id: e.category for e in entries}
        newest = merge_newest([(e.post_id, e.score) for e in entries], count)
        return [Entry(m, s, category[m]) for m, s in newest]

    async def push(self, post_id: int, category: str, score: int, users: Sequence[int]) -> int:
        self._maybe_fail("push")
        entry = Entry(str(post_id).encode(), score, category)
        reached = [u for u in users if u in self.active]
        for user in reached:
            self._add(self.feeds.setdefault(user, {}), [entry])
        return len(reached)

    async def add_entries(
        self, users: Sequence[int], entries: Sequence[Entry], only_active: bool
    ) -> int:
        self._maybe_fail("add_entries")
        self.journal.append(("add_entries", tuple(users)))
        if not entries:
            return 0
        reached = [u for u in users if not only_active or u in self.active]
        for user in reached:
            self._add(self.feeds.setdefault(user, {}), entries)
        return len(reached)

    async def remove(self, users: Sequence[int], entries: Sequence[Entry]) -> None:
        self._maybe_fail("remove")
        self.journal.append(("remove", tuple(users)))
        for user in users:
            for e in entries:
                self.feeds.get(user, {}).pop(e.post_id, None)

    async def mark_feed_ready(self, user_id: int) -> None:
        if user_id in self.active:  # SET XX: only a marker that exists
            self.ready.add(user_id)

    async def mark_pulled(self, account_id: int, pull: bool) -> None:
        self._maybe_fail("mark_pulled")
        self.journal.append(("mark_pulled", account_id, pull))
        (self.pulled.add if pull else self.pulled.discard)(account_id)


class FakeWorkTopic:
    """The work topic: keeps what it is sent, each acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[Contract] = []

    async def send(self, contract: Contract) -> asyncio.Future[None]:
        self.sent.append(contract)
        acknowledged = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged
