"""Notifications' use cases: events into groups (exactly once by envelope id, a re-like
counted once, an unlike or unfollow taking the actor out, a buy's outcome told to its
participants), and a recipient's pages, unread count and read mark. They decide; the
ports (ports.py: Postgres in production, fakes in tests) read, lock and write."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from services.notifications.domain import (
    NO_POST,
    SAMPLE_ACCOUNTS,
    AccountsNotKnown,
    Change,
    Decision,
    Delivered,
    Effect,
    Participation,
    Step,
    decision_changes,
    weight_after,
    window_for,
)
from services.notifications.ports import (
    Account,
    NotificationReads,
    NotificationRepository,
    NotificationTransaction,
)
from shared.events import AccountChanged, PostDeleted
from shared.timeutil import rfc3339

# API.md "Projections": an actor whose account has not reached us yet is waited for this
# long (accounts and follows/interactions are different topics, so either may come first).
ACCOUNTS_WAIT_S = 2.0
ACCOUNTS_RECHECK_S = 0.05


class SampleAccount(msgspec.Struct):
    id: str
    handle: str
    display_name: str
    source: str | None  # followed: api | qr | recommendation


@dataclass(frozen=True)
class Group:
    """A group as a recipient sees it, with its page position (last_at, id)."""

    id: str
    kind: str
    post_id: str | None
    count: int
    sample_accounts: list[SampleAccount]
    first_at: str
    last_at: str
    read: bool
    position: tuple[datetime, int]


class NotificationService:
    def __init__(
        self,
        groups: NotificationRepository,
        reads: NotificationReads,
        accounts_wait_s: float = ACCOUNTS_WAIT_S,
    ) -> None:
        self.groups = groups
        self.reads = reads
        self.accounts_wait_s = accounts_wait_s

    async def apply(self, batch: Sequence[Delivered]) -> None:
        """Applies, in one transaction and in order, the effects of the batch's events
        not applied before (an envelope seen twice, here or earlier, counts once)."""
        async with self.groups.writing() as tx:
            fresh = await tx.claim(sorted({d.event_id for d in batch}))
            effects: list[Effect] = []
            for d in batch:
                if d.event_id in fresh:
                    fresh.discard(d.event_id)
                    effects.extend(d.effects)
            # Keys in sorted order: concurrent batches cannot deadlock. A decision's keys
            # (participant or operator, outcome kind, post) no other event touches.
            for key in sorted({e.key for e in effects if isinstance(e, Change)}):
                await tx.lock(key)
            for effect in effects:
                if isinstance(effect, Participation):
                    await tx.set_participant(effect.post_id, effect.user_id, effect.joined)
                elif isinstance(effect, Decision):
                    participants = await tx.participants(effect.post_id)
                    for change in decision_changes(effect, participants):
                        await _apply_change(tx, change)
                else:
                    await _apply_change(tx, effect)

    async def apply_accounts(self, events: Sequence[AccountChanged]) -> None:
        """Keeps the newest version of each account (to name sample accounts)."""
        await self.groups.save_accounts(events)

    async def forget_posts(self, events: Sequence[PostDeleted]) -> None:
        """Deleted posts' groups are no longer shown."""
        await self.groups.forget_posts([int(e.post_id) for e in events])

    async def page(
        self, recipient: int, after: tuple[datetime, int] | None, limit: int
    ) -> list[Group]:
        """Up to `limit` shown groups, newest last_at first, after the position of the
        previous page's last group, each with its newest sample accounts. AccountsNotKnown
        when an actor's account has not arrived within the bounded wait."""
        rows = await self.reads.groups(recipient, after, limit)
        mark = await self.reads.read_mark(recipient)
        samples = await self.reads.samples([g.id for g in rows], SAMPLE_ACCOUNTS)
        accounts = await self._accounts({s.actor_id for s in samples})
        named: dict[int, list[SampleAccount]] = {}
        for s in samples:
            a = accounts[s.actor_id]
            named.setdefault(s.group_id, []).append(
                SampleAccount(str(a.id), a.handle, a.display_name, s.source)
            )
        return [
            Group(
                id=str(g.id),
                kind=g.kind,
                post_id=str(g.post_id) if g.post_id != NO_POST else None,
                count=g.actors,
                sample_accounts=named.get(g.id, []),
                first_at=rfc3339(g.first_at),
                last_at=rfc3339(g.last_at),
                read=mark is not None and g.last_at <= mark,
                position=(g.last_at, g.id),
            )
            for g in rows
        ]

    async def unread_count(self, recipient: int) -> int:
        """Shown groups with events after the read mark."""
        return await self.reads.unread_count(recipient)

    async def mark_read(self, recipient: int, up_to: datetime) -> None:
        """Groups whose last event is at or before `up_to` are read; never moves back."""
        await self.reads.mark_read(recipient, up_to)

    async def _accounts(self, ids: set[int]) -> dict[int, Account]:
        """The accounts of `ids`, waiting (bounded) for those not known yet."""
        deadline = time.monotonic() + self.accounts_wait_s
        while True:
            found = {a.id: a for a in await self.reads.accounts(sorted(ids))}
            if len(found) == len(ids):
                return found
            if time.monotonic() > deadline:
                missing = sorted(ids - set(found))
                raise AccountsNotKnown(
                    "accounts not known to notifications yet",
                    account_ids=[str(m) for m in missing[:SAMPLE_ACCOUNTS]],
                )
            await asyncio.sleep(ACCOUNTS_RECHECK_S)


async def _apply_change(tx: NotificationTransaction, c: Change) -> None:
    if c.version is not None and not await tx.newer_follow(c.recipient, c.actor, c.version):
        return  # an older follow change replayed after a newer one
    if c.step == "remove":
        counted = await tx.uncount_comment(c.comment_id) if c.comment_id else None
        if counted is not None:  # else the comment was never counted
            await _reweigh(tx, counted, c, "remove")
        return
    active = await tx.counted_in(c.key, c.actor)
    if c.step == "unset":
        for counted_in, weight in active:
            await _set_weight(tx, counted_in, c, weight, 0)
        return
    if c.step == "set" and active:
        return  # already counted: a re-like, a moved vote, a repeated follow
    found = window_for(await tx.groups_near(c.key, c.at), c.at)
    group_id = found if found is not None else await tx.new_group(c.key, c.at)
    await _reweigh(tx, group_id, c, c.step)
    if c.comment_id is not None:
        await tx.count_comment(c.comment_id, group_id, c.actor)


async def _reweigh(tx: NotificationTransaction, group_id: int, c: Change, step: Step) -> None:
    before = await tx.weight(group_id, c.actor)
    await _set_weight(tx, group_id, c, before, weight_after(before, step))


async def _set_weight(
    tx: NotificationTransaction, group_id: int, c: Change, before: int, weight: int
) -> None:
    """The actor's weight from `before` to `weight`: the group's count follows, and a
    weight that grows stretches the group's span to the change's time."""
    await tx.set_actor(group_id, c, weight)
    delta = int(weight > 0) - int(before > 0)
    if weight > before:
        await tx.recount(group_id, delta, c.at)
    elif delta:
        await tx.recount(group_id, delta, None)
