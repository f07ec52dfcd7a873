"""Notifications' Postgres writes: changes into groups, accounts into their projection.

A batch is applied in one transaction that first claims its events' envelope ids, so a
redelivered or replayed event changes nothing; each actor is one row per group whose
weight says whether it counts, so a re-like counts once and an unlike takes one away.
Every key (recipient, kind, post) a batch touches is locked first, in sorted order: its
groups and their counts change one writer at a time, and concurrent batches cannot
deadlock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from services.notifications.domain import (
    Change,
    Decision,
    Effect,
    Participation,
    Window,
    decision_changes,
    weight_after,
    window_for,
)
from shared import seen_events
from shared.events import AccountChanged, PostDeleted

_ACTIVE_ROWS = (
    "SELECT ga.group_id, ga.weight FROM group_actors ga JOIN groups g ON g.id = ga.group_id "
    "WHERE g.recipient_id = $1 AND g.kind = $2 AND g.post_id = $3 AND ga.actor_id = $4 "
    "AND ga.weight > 0"
)
# Only groups within one span of the event can take it (domain.window_for).
_NEARBY_GROUPS = (
    "SELECT id, first_at, last_at FROM groups "
    "WHERE recipient_id = $1 AND kind = $2 AND post_id = $3 "
    "AND first_at > $4::timestamptz - interval '12 hours' "
    "AND first_at < $4::timestamptz + interval '12 hours'"
)


@dataclass(frozen=True)
class Delivered:
    """An event's effects (none: nothing to notify) with its envelope id, the unit of
    deduplication."""

    event_id: str
    effects: Sequence[Effect] = field(default_factory=tuple)


class NotificationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def apply(self, batch: Sequence[Delivered]) -> None:
        """Applies the changes of the batch's events not applied before, in order."""
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = {
                r["event_id"]
                for r in await conn.fetch(
                    "INSERT INTO seen_events SELECT unnest($1::text[]) "
                    "ON CONFLICT DO NOTHING RETURNING event_id",
                    sorted({d.event_id for d in batch}),
                )
            }
            effects: list[Effect] = []
            for d in batch:
                if d.event_id in fresh:
                    fresh.discard(d.event_id)  # the same envelope twice in a batch: once
                    effects.extend(d.effects)
            # A decision's keys are (participant or operator, outcome kind, post): no other
            # event touches them, so they need no lock of their own.
            keys = {e.key for e in effects if isinstance(e, Change)}
            for recipient, kind, post_id in sorted(keys):
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    f"notifications:{recipient}:{kind}:{post_id}",
                )
            for effect in effects:
                if isinstance(effect, Participation):
                    await _record_participation(conn, effect)
                elif isinstance(effect, Decision):
                    for change in decision_changes(effect, await _participants(conn, effect)):
                        await _apply_change(conn, change)
                else:
                    await _apply_change(conn, effect)

    async def forget_posts(self, events: Sequence[PostDeleted]) -> None:
        """Deleted posts: their groups are no longer shown (repeating one: no-op)."""
        await self.pool.execute(
            "INSERT INTO deleted_posts SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
            sorted({int(e.post_id) for e in events}),
        )

    async def forget_old_event_ids(self, older_than: timedelta) -> int:
        """Drops claims older than `older_than` (longer than Kafka keeps events, so no
        redelivery can bring them back), a bounded batch at a time; how many went."""
        return await seen_events.forget_older_than(self.pool, older_than)

    async def apply_accounts(self, events: Sequence[AccountChanged]) -> None:
        """Keeps the newest version of each account."""
        rows = sorted({(int(e.account_id), e.handle, e.display_name, e.version) for e in events})
        async with self.pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO accounts (account_id, handle, display_name, version) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET "
                "handle = EXCLUDED.handle, display_name = EXCLUDED.display_name, "
                "version = EXCLUDED.version WHERE accounts.version < EXCLUDED.version",
                rows,
            )


async def _record_participation(conn: asyncpg.Connection, p: Participation) -> None:
    if p.joined:
        await conn.execute(
            "INSERT INTO buy_participants (post_id, user_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            p.post_id,
            p.user_id,
        )
    else:
        await conn.execute(
            "DELETE FROM buy_participants WHERE post_id = $1 AND user_id = $2",
            p.post_id,
            p.user_id,
        )


async def _participants(conn: asyncpg.Connection, decision: Decision) -> list[int]:
    rows = await conn.fetch(
        "SELECT user_id FROM buy_participants WHERE post_id = $1 ORDER BY user_id",
        decision.post_id,
    )
    return [r["user_id"] for r in rows]


async def _apply_change(conn: asyncpg.Connection, c: Change) -> None:
    if c.version is not None and not await _newest_version(conn, c):
        return
    if c.step == "remove":
        await _remove_comment(conn, c)
        return
    active = await conn.fetch(_ACTIVE_ROWS, c.recipient, c.kind, c.post_id, c.actor)
    if c.step == "unset":
        for row in active:
            await _set_weight(conn, row["group_id"], c, row["weight"], 0)
        return
    if c.step == "set" and active:
        return  # already counted: a re-like, a moved vote, a repeated follow
    group_id = await _group_for(conn, c)
    weight = await conn.fetchval(
        "SELECT weight FROM group_actors WHERE group_id = $1 AND actor_id = $2",
        group_id,
        c.actor,
    )
    await _set_weight(conn, group_id, c, weight or 0, weight_after(weight or 0, c.step))
    if c.comment_id is not None:
        await conn.execute(
            "INSERT INTO comment_groups (comment_id, group_id, actor_id) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            c.comment_id,
            group_id,
            c.actor,
        )


async def _newest_version(conn: asyncpg.Connection, c: Change) -> bool:
    """Records the follow pair's version; False when a newer one was applied already."""
    newer = await conn.fetchval(
        "INSERT INTO follow_versions (recipient_id, actor_id, version) VALUES ($1, $2, $3) "
        "ON CONFLICT (recipient_id, actor_id) DO UPDATE SET version = EXCLUDED.version "
        "WHERE follow_versions.version < EXCLUDED.version RETURNING version",
        c.recipient,
        c.actor,
        c.version,
    )
    return newer is not None


async def _group_for(conn: asyncpg.Connection, c: Change) -> int:
    """The group of the change's key its time falls in, made when there is none."""
    nearby = await conn.fetch(_NEARBY_GROUPS, c.recipient, c.kind, c.post_id, c.at)
    found = window_for([Window(r["id"], r["first_at"], r["last_at"]) for r in nearby], c.at)
    if found is not None:
        return found
    return await conn.fetchval(
        "INSERT INTO groups (recipient_id, kind, post_id, first_at, last_at) "
        "VALUES ($1, $2, $3, $4, $4) RETURNING id",
        c.recipient,
        c.kind,
        c.post_id,
        c.at,
    )


async def _set_weight(
    conn: asyncpg.Connection, group_id: int, c: Change, before: int, weight: int
) -> None:
    """Sets the actor's weight in the group from `before`; the group's actor count
    follows, and a weight that grows stretches the group's span to the change's time."""
    await conn.execute(
        "INSERT INTO group_actors (group_id, actor_id, weight, at, source) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, actor_id) DO UPDATE SET "
        "weight = EXCLUDED.weight, at = CASE WHEN EXCLUDED.weight > group_actors.weight "
        "THEN greatest(group_actors.at, EXCLUDED.at) ELSE group_actors.at END, "
        "source = coalesce(EXCLUDED.source, group_actors.source)",
        group_id,
        c.actor,
        weight,
        c.at,
        c.source,
    )
    delta = int(weight > 0) - int(before > 0)
    if weight > before:
        await conn.execute(
            "UPDATE groups SET actors = actors + $2, first_at = least(first_at, $3), "
            "last_at = greatest(last_at, $3) WHERE id = $1",
            group_id,
            delta,
            c.at,
        )
    elif delta:
        await conn.execute("UPDATE groups SET actors = actors + $2 WHERE id = $1", group_id, delta)


async def _remove_comment(conn: asyncpg.Connection, c: Change) -> None:
    """Takes a deleted comment out of the group that counted it (none: never counted)."""
    counted = await conn.fetchrow(
        "DELETE FROM comment_groups WHERE comment_id = $1 RETURNING group_id", c.comment_id
    )
    if counted is None:
        return
    weight = await conn.fetchval(
        "SELECT weight FROM group_actors WHERE group_id = $1 AND actor_id = $2",
        counted["group_id"],
        c.actor,
    )
    await _set_weight(
        conn, counted["group_id"], c, weight or 0, weight_after(weight or 0, "remove")
    )
