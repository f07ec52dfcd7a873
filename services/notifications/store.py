"""Notifications' Postgres writes (ports.NotificationRepository): groups and their actors,
the claimed envelope ids, follow versions, counted comments, group-buy participants,
accounts and deleted posts. What a change does is decided in service.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg

from services.notifications.domain import Change, GroupKey, Window
from shared import seen_events
from shared.events import AccountChanged

# Only groups within one span of the event can take it (domain.window_for).
_NEARBY_GROUPS = (
    "SELECT id, first_at, last_at FROM groups "
    "WHERE recipient_id = $1 AND kind = $2 AND post_id = $3 "
    "AND first_at > $4::timestamptz - interval '12 hours' "
    "AND first_at < $4::timestamptz + interval '12 hours'"
)


class NotificationStore:
    """ports.NotificationRepository on Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[NotificationTransaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield NotificationTransaction(conn)

    async def save_accounts(self, events: Sequence[AccountChanged]) -> None:
        rows = sorted({(int(e.account_id), e.handle, e.display_name, e.version) for e in events})
        await self.pool.executemany(
            "INSERT INTO accounts (account_id, handle, display_name, version) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET "
            "handle = EXCLUDED.handle, display_name = EXCLUDED.display_name, "
            "version = EXCLUDED.version WHERE accounts.version < EXCLUDED.version",
            rows,
        )

    async def forget_posts(self, post_ids: Sequence[int]) -> None:
        await self.pool.execute(
            "INSERT INTO deleted_posts SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
            sorted(set(post_ids)),
        )

    async def forget_old_event_ids(self, older_than: timedelta) -> int:
        """Drops claims older than `older_than` (longer than Kafka keeps events, so no
        redelivery can bring them back), a bounded batch at a time; how many went."""
        return await seen_events.forget_older_than(self.pool, older_than)


class NotificationTransaction:
    """ports.NotificationTransaction on one Postgres connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, event_ids: Sequence[str]) -> set[str]:
        rows = await self.conn.fetch(
            "INSERT INTO seen_events SELECT unnest($1::text[]) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            list(event_ids),
        )
        return {r["event_id"] for r in rows}

    async def lock(self, key: GroupKey) -> None:
        recipient, kind, post_id = key
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"notifications:{recipient}:{kind}:{post_id}",
        )

    async def newer_follow(self, recipient: int, actor: int, version: int) -> bool:
        newer = await self.conn.fetchval(
            "INSERT INTO follow_versions (recipient_id, actor_id, version) VALUES ($1, $2, $3) "
            "ON CONFLICT (recipient_id, actor_id) DO UPDATE SET version = EXCLUDED.version "
            "WHERE follow_versions.version < EXCLUDED.version RETURNING version",
            recipient,
            actor,
            version,
        )
        return newer is not None

    async def counted_in(self, key: GroupKey, actor: int) -> list[tuple[int, int]]:
        rows = await self.conn.fetch(
            "SELECT ga.group_id, ga.weight FROM group_actors ga "
            "JOIN groups g ON g.id = ga.group_id WHERE g.recipient_id = $1 AND g.kind = $2 "
            "AND g.post_id = $3 AND ga.actor_id = $4 AND ga.weight > 0",
            *key,
            actor,
        )
        return [(r["group_id"], r["weight"]) for r in rows]

    async def groups_near(self, key: GroupKey, at: datetime) -> list[Window]:
        rows = await self.conn.fetch(_NEARBY_GROUPS, *key, at)
        return [Window(r["id"], r["first_at"], r["last_at"]) for r in rows]

    async def new_group(self, key: GroupKey, at: datetime) -> int:
        return await self.conn.fetchval(
            "INSERT INTO groups (recipient_id, kind, post_id, first_at, last_at) "
            "VALUES ($1, $2, $3, $4, $4) RETURNING id",
            *key,
            at,
        )

    async def weight(self, group_id: int, actor: int) -> int:
        weight = await self.conn.fetchval(
            "SELECT weight FROM group_actors WHERE group_id = $1 AND actor_id = $2",
            group_id,
            actor,
        )
        return weight or 0

    async def set_actor(self, group_id: int, change: Change, weight: int) -> None:
        await self.conn.execute(
            "INSERT INTO group_actors (group_id, actor_id, weight, at, source) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, actor_id) DO UPDATE SET "
            "weight = EXCLUDED.weight, at = CASE WHEN EXCLUDED.weight > group_actors.weight "
            "THEN greatest(group_actors.at, EXCLUDED.at) ELSE group_actors.at END, "
            "source = coalesce(EXCLUDED.source, group_actors.source)",
            group_id,
            change.actor,
            weight,
            change.at,
            change.source,
        )

    async def recount(self, group_id: int, delta: int, stretch_to: datetime | None) -> None:
        await self.conn.execute(
            "UPDATE groups SET actors = actors + $2, "
            "first_at = least(first_at, coalesce($3, first_at)), "
            "last_at = greatest(last_at, coalesce($3, last_at)) WHERE id = $1",
            group_id,
            delta,
            stretch_to,
        )

    async def count_comment(self, comment_id: int, group_id: int, actor: int) -> None:
        await self.conn.execute(
            "INSERT INTO comment_groups (comment_id, group_id, actor_id) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            comment_id,
            group_id,
            actor,
        )

    async def uncount_comment(self, comment_id: int) -> int | None:
        return await self.conn.fetchval(
            "DELETE FROM comment_groups WHERE comment_id = $1 RETURNING group_id", comment_id
        )

    async def set_participant(self, post_id: int, user_id: int, joined: bool) -> None:
        if joined:
            await self.conn.execute(
                "INSERT INTO buy_participants (post_id, user_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                post_id,
                user_id,
            )
        else:
            await self.conn.execute(
                "DELETE FROM buy_participants WHERE post_id = $1 AND user_id = $2",
                post_id,
                user_id,
            )

    async def participants(self, post_id: int) -> list[int]:
        rows = await self.conn.fetch(
            "SELECT user_id FROM buy_participants WHERE post_id = $1 ORDER BY user_id", post_id
        )
        return [r["user_id"] for r in rows]
