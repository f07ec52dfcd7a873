"""Group buys on Postgres (ports.GroupBuyRepository): participants, the count and state
on the post, and their events in the same transaction through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from services.publishing import tallies
from services.publishing.store import SCHEMA
from services.publishing.votes_and_buys import OpenBuy
from shared import outbox
from shared.events import GroupBuyDecided, PostInteraction
from shared.timeutil import rfc3339

BUY_COLUMNS = "id, account_id, kind, attachments, group_buy_participants, group_buy_state"


def open_buy(row: asyncpg.Record) -> OpenBuy:
    return OpenBuy(
        post_id=row["id"],
        account_id=row["account_id"],
        kind=row["kind"],
        terms=row["attachments"].get("group_buy"),
        participants=row["group_buy_participants"] or 0,
        state=row["group_buy_state"],
    )


class GroupBuyStore:
    """ports.GroupBuyRepository on Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[GroupBuyTransaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield GroupBuyTransaction(conn)


class GroupBuyTransaction:
    """ports.GroupBuyTransaction on one Postgres connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def locked_buy(self, post_id: int) -> OpenBuy | None:
        row = await self.conn.fetchrow(
            f"SELECT {BUY_COLUMNS} FROM posts WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
            post_id,
        )
        return open_buy(row) if row else None

    async def has_joined(self, post_id: int, user_id: int) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT 1 FROM group_buy_participants WHERE post_id = $1 AND user_id = $2",
                post_id,
                user_id,
            )
        )

    async def _joined(self, buy: OpenBuy, user_id: int, action: str, now: datetime) -> None:
        event = PostInteraction(
            post_id=str(buy.post_id),
            account_id=str(buy.account_id),
            user_id=str(user_id),
            action=action,
            at=rfc3339(now),
        )
        await outbox.enqueue(self.conn, SCHEMA, event)

    async def add_participant(self, buy: OpenBuy, user_id: int, now: datetime) -> int:
        await self.conn.execute(
            "INSERT INTO group_buy_participants (post_id, user_id, joined_at) VALUES ($1, $2, $3)",
            buy.post_id,
            user_id,
            now,
        )
        count = await self.conn.fetchval(
            "UPDATE posts SET group_buy_participants = group_buy_participants + 1 "
            "WHERE id = $1 RETURNING group_buy_participants",
            buy.post_id,
        )
        await self._joined(buy, user_id, "group_buy_join", now)
        await tallies.announce(self.conn, buy.post_id)
        return count

    async def remove_participant(self, buy: OpenBuy, user_id: int, now: datetime) -> None:
        removed = await self.conn.fetchval(
            "DELETE FROM group_buy_participants WHERE post_id = $1 AND user_id = $2 RETURNING 1",
            buy.post_id,
            user_id,
        )
        if removed:
            await self.conn.execute(
                "UPDATE posts SET group_buy_participants = group_buy_participants - 1 "
                "WHERE id = $1",
                buy.post_id,
            )
            await self._joined(buy, user_id, "group_buy_leave", now)
            await tallies.announce(self.conn, buy.post_id)

    async def due_buys(self, now: datetime, limit: int) -> list[OpenBuy]:
        rows = await self.conn.fetch(
            f"SELECT {BUY_COLUMNS} FROM posts WHERE group_buy_state = 'open' "
            f"AND group_buy_ends_at <= $1 AND deleted_at IS NULL "
            f"ORDER BY group_buy_ends_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [open_buy(r) for r in rows]

    async def decide(self, buy: OpenBuy, state: str, participants: int, now: datetime) -> None:
        assert buy.terms is not None
        # `state = 'open'` in the update too: an outcome is recorded once, whoever asks.
        decided = await self.conn.fetchval(
            "UPDATE posts SET group_buy_state = $2 WHERE id = $1 AND group_buy_state = 'open' "
            "RETURNING 1",
            buy.post_id,
            state,
        )
        if decided:
            event = GroupBuyDecided(
                post_id=str(buy.post_id),
                account_id=str(buy.account_id),
                item_id=buy.terms["item_id"],
                state=state,
                participants=participants,
                min_participants=buy.terms["min_participants"],
                price_cents=buy.terms["price_cents"],
                decided_at=rfc3339(now),
            )
            await outbox.enqueue(self.conn, SCHEMA, event)
            await tallies.announce(self.conn, buy.post_id)
