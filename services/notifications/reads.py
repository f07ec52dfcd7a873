"""Notifications' Postgres reads (ports.NotificationReads): a recipient's shown groups
newest first, their sample actors, the accounts that name them, and the read mark."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.notifications.ports import Account, GroupRow, Sample

# A group about a deleted post is not shown (post_id 0, follows, is never deleted).
_SHOWN = (
    "actors > 0 AND NOT EXISTS (SELECT 1 FROM deleted_posts d WHERE d.post_id = groups.post_id)"
)
_PAGE = (
    "SELECT id, kind, post_id, actors, first_at, last_at FROM groups "
    "WHERE recipient_id = $1 AND " + _SHOWN + " "
    "AND ($2::timestamptz IS NULL OR (last_at, id) < ($2, $3)) "
    "ORDER BY last_at DESC, id DESC LIMIT $4"
)
_SAMPLES = (
    "SELECT s.group_id, s.actor_id, s.source FROM unnest($1::bigint[]) AS g(id) "
    "CROSS JOIN LATERAL (SELECT group_id, actor_id, source, at FROM group_actors "
    "WHERE group_id = g.id AND weight > 0 ORDER BY at DESC, actor_id DESC LIMIT $2) s "
    "ORDER BY s.group_id, s.at DESC, s.actor_id DESC"
)
_READ_MARK = "SELECT up_to FROM read_marks WHERE recipient_id = $1"


class NotificationReader:
    """ports.NotificationReads on Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def groups(
        self, recipient: int, after: tuple[datetime, int] | None, limit: int
    ) -> list[GroupRow]:
        since, after_id = after if after else (None, 0)
        rows = await self.pool.fetch(_PAGE, recipient, since, after_id, limit)
        return [GroupRow(**dict(r)) for r in rows]

    async def samples(self, group_ids: Sequence[int], per_group: int) -> list[Sample]:
        rows = await self.pool.fetch(_SAMPLES, list(group_ids), per_group)
        return [Sample(r["group_id"], r["actor_id"], r["source"]) for r in rows]

    async def accounts(self, ids: Sequence[int]) -> list[Account]:
        rows = await self.pool.fetch(
            "SELECT account_id, handle, display_name FROM accounts "
            "WHERE account_id = ANY($1::bigint[])",
            list(ids),
        )
        return [Account(r["account_id"], r["handle"], r["display_name"]) for r in rows]

    async def read_mark(self, recipient: int) -> datetime | None:
        return await self.pool.fetchval(_READ_MARK, recipient)

    async def unread_count(self, recipient: int) -> int:
        return await self.pool.fetchval(
            "SELECT count(*) FROM groups WHERE recipient_id = $1 AND " + _SHOWN + " "
            "AND last_at > coalesce((" + _READ_MARK + "), '-infinity')",
            recipient,
        )

    async def mark_read(self, recipient: int, up_to: datetime) -> None:
        await self.pool.execute(
            "INSERT INTO read_marks (recipient_id, up_to) VALUES ($1, $2) "
            "ON CONFLICT (recipient_id) DO UPDATE SET "
            "up_to = greatest(read_marks.up_to, EXCLUDED.up_to)",
            recipient,
            up_to,
        )
