"""Notifications' ports: what its use cases (service.py) need of storage. store.py and
reads.py implement them on Postgres; tests/unit/fakes_notifications.py in memory."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.notifications.domain import Change, GroupKey, Window
from shared.events import AccountChanged


class NotificationTransaction(Protocol):
    """One transaction of changes to groups; the use cases decide, these read and write."""

    async def claim(self, event_ids: Sequence[str]) -> set[str]:
        """Records envelope ids as applied; those not applied before."""

    async def lock(self, key: GroupKey) -> None:
        """Holds the key's groups to the commit (callers lock keys in sorted order)."""

    async def newer_follow(self, recipient: int, actor: int, version: int) -> bool:
        """Records a follow pair's version; False when a newer one was recorded already."""

    async def counted_in(self, key: GroupKey, actor: int) -> list[tuple[int, int]]:
        """(group id, weight) of the key's groups that count the actor (weight > 0)."""

    async def groups_near(self, key: GroupKey, at: datetime) -> list[Window]:
        """The key's groups that started within one span of `at`."""

    async def new_group(self, key: GroupKey, at: datetime) -> int:
        """A new, empty group of the key starting and ending at `at`; its id."""

    async def weight(self, group_id: int, actor: int) -> int:
        """The actor's weight in the group (0 when not in it)."""

    async def set_actor(self, group_id: int, change: Change, weight: int) -> None:
        """Sets the actor's weight (its time moves to the change's when the weight grows)."""

    async def recount(self, group_id: int, delta: int, stretch_to: datetime | None) -> None:
        """Moves the group's actor count by `delta`, its span stretched to `stretch_to`."""

    async def count_comment(self, comment_id: int, group_id: int, actor: int) -> None:
        """Records which group counted a comment (again: no-op)."""

    async def uncount_comment(self, comment_id: int) -> int | None:
        """Forgets which group counted a comment; that group, or None if none did."""

    async def set_participant(self, post_id: int, user_id: int, joined: bool) -> None:
        """Adds or removes a participant of a group buy (repeating either: no-op)."""

    async def participants(self, post_id: int) -> list[int]:
        """A group buy's participants, by id."""


class NotificationRepository(Protocol):
    def writing(self) -> AbstractAsyncContextManager[NotificationTransaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""

    async def save_accounts(self, events: Sequence[AccountChanged]) -> None:
        """Keeps the newest version of each account."""

    async def forget_posts(self, post_ids: Sequence[int]) -> None:
        """Marks posts deleted: their groups are no longer shown (repeating: no-op)."""


@dataclass(frozen=True)
class GroupRow:
    """A shown group as stored."""

    id: int
    kind: str
    post_id: int
    actors: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Sample:
    """One of the newest actors of a group (follows: with the follow's source)."""

    group_id: int
    actor_id: int
    source: str | None


@dataclass(frozen=True)
class Account:
    id: int
    handle: str
    display_name: str


class NotificationReads(Protocol):
    """A recipient's shown groups (with actors, about no deleted post) and read mark."""

    async def groups(
        self, recipient: int, after: tuple[datetime, int] | None, limit: int
    ) -> list[GroupRow]:
        """Up to `limit` groups, newest (last_at, id) first, after that position."""

    async def samples(self, group_ids: Sequence[int], per_group: int) -> list[Sample]:
        """Each group's newest counted actors, up to `per_group`, newest first."""

    async def accounts(self, ids: Sequence[int]) -> list[Account]:
        """The accounts of `ids` known to this service."""

    async def read_mark(self, recipient: int) -> datetime | None:
        """Groups whose last_at is at or before the mark are read."""

    async def unread_count(self, recipient: int) -> int:
        """Shown groups whose last_at is after the read mark."""

    async def mark_read(self, recipient: int, up_to: datetime) -> None:
        """Moves the read mark forward to `up_to` (never back)."""
