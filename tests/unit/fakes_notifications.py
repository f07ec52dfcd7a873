"""In-memory fakes of notifications' ports (ports.NotificationRepository and
NotificationReads), after cosmicpython's FakeUnitOfWork: what Postgres would keep."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from services.notifications.domain import GROUP_SPAN, Change, GroupKey, Window
from services.notifications.ports import Account, GroupRow, Sample
from shared.events import AccountChanged


@dataclass
class FakeGroup:
    key: GroupKey
    first_at: datetime
    last_at: datetime
    actors: int = 0


@dataclass
class FakeActor:
    weight: int
    at: datetime
    source: str | None


@dataclass
class State:
    seen: set[str] = field(default_factory=set)
    groups: dict[int, FakeGroup] = field(default_factory=dict)
    actors: dict[tuple[int, int], FakeActor] = field(default_factory=dict)
    follow_versions: dict[tuple[int, int], int] = field(default_factory=dict)
    comments: dict[int, int] = field(default_factory=dict)  # comment -> group
    participants: set[tuple[int, int]] = field(default_factory=set)


class FakeNotifications:
    """Both ports on one in-memory state; a transaction that raises leaves it as it was."""

    def __init__(self) -> None:
        self.state = State()
        self.known: dict[int, Account] = {}
        self.deleted_posts: set[int] = set()
        self.read_marks: dict[int, datetime] = {}
        self.locked: list[GroupKey] = []  # the keys transactions locked, in order

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[FakeTransaction]:
        before = copy.deepcopy(self.state)
        try:
            yield FakeTransaction(self)
        except BaseException:
            self.state = before
            raise

    async def save_accounts(self, events: Sequence[AccountChanged]) -> None:
        for e in events:
            self.known[int(e.account_id)] = Account(int(e.account_id), e.handle, e.display_name)

    async def forget_posts(self, post_ids: Sequence[int]) -> None:
        self.deleted_posts.update(post_ids)

    # ---------------------------------------------------------------- reads

    def _shown(self, recipient: int) -> list[tuple[int, FakeGroup]]:
        return [
            (gid, g)
            for gid, g in self.state.groups.items()
            if g.key[0] == recipient and g.actors > 0 and g.key[2] not in self.deleted_posts
        ]

    async def groups(
        self, recipient: int, after: tuple[datetime, int] | None, limit: int
    ) -> list[GroupRow]:
        shown = sorted(self._shown(recipient), key=lambda p: (p[1].last_at, p[0]), reverse=True)
        if after is not None:
            shown = [(gid, g) for gid, g in shown if (g.last_at, gid) < after]
        return [
            GroupRow(gid, g.key[1], g.key[2], g.actors, g.first_at, g.last_at)
            for gid, g in shown[:limit]
        ]

    async def samples(self, group_ids: Sequence[int], per_group: int) -> list[Sample]:
        found = []
        for gid in sorted(group_ids):
            counted = [
                (a.at, actor, a.source)
                for (g, actor), a in self.state.actors.items()
                if g == gid and a.weight > 0
            ]
            found.extend(Sample(gid, actor, src) for _, actor, src in sorted(counted)[::-1])
        return [s for i, s in enumerate(found) if _rank(found, i) < per_group]

    async def accounts(self, ids: Sequence[int]) -> list[Account]:
        return [self.known[i] for i in ids if i in self.known]

    async def read_mark(self, recipient: int) -> datetime | None:
        return self.read_marks.get(recipient)

    async def unread_count(self, recipient: int) -> int:
        mark = self.read_marks.get(recipient)
        return sum(1 for _, g in self._shown(recipient) if mark is None or g.last_at > mark)

    async def mark_read(self, recipient: int, up_to: datetime) -> None:
        self.read_marks[recipient] = max(up_to, self.read_marks.get(recipient, up_to))


def _rank(samples: list[Sample], index: int) -> int:
    """How many samples of the same group come before `index`."""
    return sum(1 for s in samples[:index] if s.group_id == samples[index].group_id)


class FakeTransaction:
    def __init__(self, fake: FakeNotifications) -> None:
        self.fake = fake
        self.s = fake.state

    async def claim(self, event_ids: Sequence[str]) -> set[str]:
        fresh = set(event_ids) - self.s.seen
        self.s.seen.update(fresh)
        return fresh

    async def lock(self, key: GroupKey) -> None:
        self.fake.locked.append(key)

    async def newer_follow(self, recipient: int, actor: int, version: int) -> bool:
        if self.s.follow_versions.get((recipient, actor), 0) >= version:
            return False
        self.s.follow_versions[(recipient, actor)] = version
        return True

    async def counted_in(self, key: GroupKey, actor: int) -> list[tuple[int, int]]:
        return [
            (gid, a.weight)
            for (gid, who), a in self.s.actors.items()
            if who == actor and a.weight > 0 and self.s.groups[gid].key == key
        ]

    async def groups_near(self, key: GroupKey, at: datetime) -> list[Window]:
        return [
            Window(gid, g.first_at, g.last_at)
            for gid, g in self.s.groups.items()
            if g.key == key and abs(g.first_at - at) < GROUP_SPAN
        ]

    async def new_group(self, key: GroupKey, at: datetime) -> int:
        gid = len(self.s.groups) + 1
        self.s.groups[gid] = FakeGroup(key, at, at)
        return gid

    async def weight(self, group_id: int, actor: int) -> int:
        found = self.s.actors.get((group_id, actor))
        return found.weight if found else 0

    async def set_actor(self, group_id: int, change: Change, weight: int) -> None:
        found = self.s.actors.get((group_id, change.actor))
        if found is None:
            self.s.actors[(group_id, change.actor)] = FakeActor(weight, change.at, change.source)
            return
        if weight > found.weight:
            found.at = max(found.at, change.at)
        found.weight = weight
        found.source = change.source or found.source

    async def recount(self, group_id: int, delta: int, stretch_to: datetime | None) -> None:
        group = self.s.groups[group_id]
        group.actors += delta
        if stretch_to is not None:
            group.first_at = min(group.first_at, stretch_to)
            group.last_at = max(group.last_at, stretch_to)

    async def count_comment(self, comment_id: int, group_id: int, actor: int) -> None:
        self.s.comments.setdefault(comment_id, group_id)

    async def uncount_comment(self, comment_id: int) -> int | None:
        return self.s.comments.pop(comment_id, None)

    async def set_participant(self, post_id: int, user_id: int, joined: bool) -> None:
        if joined:
            self.s.participants.add((post_id, user_id))
        else:
            self.s.participants.discard((post_id, user_id))

    async def participants(self, post_id: int) -> list[int]:
        return sorted(u for p, u in self.s.participants if p == post_id)
