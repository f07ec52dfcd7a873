"""Notifications' Postgres reads: a recipient's groups newest first with their sample
accounts, the unread count, and the read mark."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import asyncpg

from services.notifications.domain import NO_POST, SAMPLE_ACCOUNTS
from shared.errors import DomainError
from shared.timeutil import rfc3339

# API.md "Projections": an actor whose account has not reached us yet is waited for this
# long (accounts and follows/interactions are different topics, so either may come first).
ACCOUNTS_WAIT_S = 2.0
_POLL_S = 0.05

# A group about a deleted post is not shown (post_id 0, follows, is never deleted).
_SHOWN = "NOT EXISTS (SELECT 1 FROM deleted_posts d WHERE d.post_id = groups.post_id)"
_PAGE = (
    "SELECT id, kind, post_id, actors, first_at, last_at FROM groups "
    "WHERE recipient_id = $1 AND actors > 0 AND " + _SHOWN + " "
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


class AccountsNotKnown(DomainError):
    """Actors whose accounts have not reached this service within the bounded wait."""

    code = "not_ready"


class NotificationReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def page(
        self, recipient: int, after: tuple[datetime, int] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` groups with actors, newest last_at first, after the position
        (last_at, id) of the previous page's last group; each with its samples."""
        since, after_id = after if after else (None, 0)
        async with self.pool.acquire() as conn:
            groups = await conn.fetch(_PAGE, recipient, since, after_id, limit)
            mark = await conn.fetchval(_READ_MARK, recipient)
            samples = await conn.fetch(_SAMPLES, [g["id"] for g in groups], SAMPLE_ACCOUNTS)
        accounts = await self._accounts({s["actor_id"] for s in samples})
        by_group: dict[int, list[dict[str, Any]]] = {}
        for s in samples:
            sample = {**accounts[s["actor_id"]], "source": s["source"]}
            by_group.setdefault(s["group_id"], []).append(sample)
        return [
            {
                "id": str(g["id"]),
                "kind": g["kind"],
                "post_id": str(g["post_id"]) if g["post_id"] != NO_POST else None,
                "count": g["actors"],
                "sample_accounts": by_group.get(g["id"], []),
                "first_at": rfc3339(g["first_at"]),
                "last_at": rfc3339(g["last_at"]),
                "read": mark is not None and g["last_at"] <= mark,
                "position": (g["last_at"], g["id"]),
            }
            for g in groups
        ]

    async def _accounts(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        """The accounts of `ids`, waiting (bounded) for those not known yet."""
        deadline = time.monotonic() + ACCOUNTS_WAIT_S
        while True:
            rows = await self.pool.fetch(
                "SELECT account_id, handle, display_name FROM accounts "
                "WHERE account_id = ANY($1::bigint[])",
                list(ids),
            )
            if len(rows) == len(ids):
                return {
                    r["account_id"]: {
                        "id": str(r["account_id"]),
                        "handle": r["handle"],
                        "display_name": r["display_name"],
                    }
                    for r in rows
                }
            if time.monotonic() > deadline:
                missing = sorted(ids - {r["account_id"] for r in rows})
                raise AccountsNotKnown(
                    "accounts not known to notifications yet",
                    account_ids=[str(m) for m in missing[:SAMPLE_ACCOUNTS]],
                )
            await asyncio.sleep(_POLL_S)

    async def unread_count(self, recipient: int) -> int:
        """Shown groups with actors whose last event came after the read mark."""
        return await self.pool.fetchval(
            "SELECT count(*) FROM groups WHERE recipient_id = $1 AND actors > 0 "
            "AND " + _SHOWN + " AND last_at > coalesce((" + _READ_MARK + "), '-infinity')",
            recipient,
        )

    async def mark_read(self, recipient: int, up_to: datetime) -> None:
        """Groups whose last event is at or before `up_to` are read; the mark never
        moves back."""
        await self.pool.execute(
            "INSERT INTO read_marks (recipient_id, up_to) VALUES ($1, $2) "
            "ON CONFLICT (recipient_id) DO UPDATE SET "
            "up_to = greatest(read_marks.up_to, EXCLUDED.up_to)",
            recipient,
            up_to,
        )
