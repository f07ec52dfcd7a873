"""Insights' Postgres writes (ports.IngestStore): a transaction claims events' ids
(seen_events) and purchase orders (orders) and applies what the use cases
(services.insights.service.Ingest) decided. Rows are written in key order, so
concurrent batches take their row locks in one order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, timedelta

import asyncpg

from services.insights.domain import IMPORT_SOURCE, shanghai_day
from services.insights.tally import POST_USER_COUNTERS, USER_DAY_COUNTERS, EngagementTally
from shared import seen_events
from shared.events import AccountChanged, FollowChanged, PostInteraction
from shared.timeutil import parse_rfc3339

# A note for the fake-follower judge widens the span already noted for the account.
MERGE_JUDGEMENT = (
    "ON CONFLICT (account_id) DO UPDATE SET "
    "first_at = least(pending_judgement.first_at, EXCLUDED.first_at), "
    "last_at = greatest(pending_judgement.last_at, EXCLUDED.last_at)"
)
INTERACTION_SQL = {
    "like": "INSERT INTO post_likes VALUES ($1, $2) ON CONFLICT DO NOTHING",
    "unlike": "DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2",
    "vote": "INSERT INTO post_votes VALUES ($1, $2) ON CONFLICT DO NOTHING",
    "comment": "INSERT INTO post_comments VALUES ($1, $2) ON CONFLICT DO NOTHING",
    "uncomment": "DELETE FROM post_comments WHERE post_id = $1 AND comment_id = $2",
}


def _upsert_adding(table: str, keys: Sequence[str], counters: Sequence[str]) -> str:
    columns = [*keys, *counters]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    adds = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in counters)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    )


UPSERT_USER_DAY = _upsert_adding("user_day", ("account_id", "day", "user_id"), USER_DAY_COUNTERS)
UPSERT_POST_USER = _upsert_adding("post_user", ("post_id", "user_id"), POST_USER_COUNTERS)


class IngestStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[IngestTransaction]:
        """One Postgres transaction: a batch's claims and effects commit together."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield IngestTransaction(conn)

    async def forget_old_event_ids(self, older_than: timedelta) -> int:
        """Drops claims older than `older_than` (longer than Kafka keeps events, so no
        redelivery can bring them back), a bounded batch at a time; how many went."""
        return await seen_events.forget_older_than(self.pool, older_than)


class IngestTransaction:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def _claim(self, table: str, column: str, ids: list[str]) -> set[str]:
        rows = await self.conn.fetch(
            f"INSERT INTO {table} SELECT unnest($1::text[]) "
            f"ON CONFLICT DO NOTHING RETURNING {column}",
            ids,
        )
        return {r[column] for r in rows}

    async def claim_events(self, event_ids: list[str]) -> set[str]:
        return await self._claim("seen_events", "event_id", event_ids)

    async def claim_orders(self, order_ids: list[str]) -> set[str]:
        return await self._claim("orders", "order_id", order_ids)

    async def add_engagement(self, tally: EngagementTally) -> None:
        conn = self.conn
        await conn.executemany(
            UPSERT_USER_DAY, [(*k, *v.values()) for k, v in sorted(tally.user_day.items())]
        )
        await conn.executemany(
            UPSERT_POST_USER, [(*k, *v.values()) for k, v in sorted(tally.post_user.items())]
        )
        await conn.executemany(
            "INSERT INTO user_activity VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE "
            "SET first_at = least(user_activity.first_at, EXCLUDED.first_at)",
            sorted(tally.first_seen.items()),
        )
        await conn.executemany(
            "INSERT INTO interactions VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (user_id, account_id, kind) "
            "DO UPDATE SET at = greatest(interactions.at, EXCLUDED.at)",
            [(*k, at) for k, at in sorted(tally.liked.items())],
        )
        await self._mark_dirty(tally.accounts())

    async def _mark_dirty(self, accounts: set[int]) -> None:
        if accounts:
            await self.conn.execute(
                "INSERT INTO dirty_accounts SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                sorted(accounts),
            )

    async def log_follows(self, follows: list[FollowChanged]) -> None:
        rows = [
            (
                int(e.account_id),
                int(e.user_id),
                e.version,
                e.following,
                e.source,
                parse_rfc3339(e.at),
            )
            for e in follows
        ]
        await self.conn.executemany(
            "INSERT INTO follow_log VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            [(*r, shanghai_day(r[5])) for r in rows],
        )
        await self.conn.executemany(
            "INSERT INTO follows (account_id, user_id, version, following, at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, account_id) DO UPDATE "
            "SET version = EXCLUDED.version, following = EXCLUDED.following, at = EXCLUDED.at "
            "WHERE follows.version < EXCLUDED.version",
            [(*r[:4], r[5]) for r in rows],
        )
        await self.conn.executemany(
            f"INSERT INTO pending_judgement VALUES ($1, $2, $2) {MERGE_JUDGEMENT}",
            sorted((r[0], r[5]) for r in rows if r[3] and r[4] != IMPORT_SOURCE),
        )

    async def put_accounts(self, accounts: list[AccountChanged]) -> None:
        await self.conn.executemany(
            "INSERT INTO accounts VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (account_id) DO UPDATE SET handle = EXCLUDED.handle, "
            "display_name = EXCLUDED.display_name, kind = EXCLUDED.kind, "
            "category = EXCLUDED.category, "
            "status = EXCLUDED.status, created_at = EXCLUDED.created_at, "
            "version = EXCLUDED.version WHERE accounts.version < EXCLUDED.version",
            [
                (
                    int(e.account_id),
                    e.handle,
                    e.display_name,
                    e.kind,
                    e.category,
                    e.status,
                    parse_rfc3339(e.created_at),
                    e.version,
                )
                for e in accounts
            ],
        )
        ids = {int(e.account_id) for e in accounts}
        await self._mark_dirty(ids)
        # A follower's account may arrive after their follows (topics are consumed
        # side by side): those follows are judged again now that its facts are known.
        await self.conn.execute(
            "INSERT INTO pending_judgement SELECT account_id, min(at), max(at) "
            "FROM follow_log WHERE user_id = ANY($1) AND following AND source <> $2 "
            "GROUP BY account_id "
            f"ORDER BY account_id {MERGE_JUDGEMENT}",
            sorted(ids),
            IMPORT_SOURCE,
        )

    async def put_post(self, post_id: int, account_id: int, day: date, deleted: bool) -> None:
        await self.conn.execute(
            "INSERT INTO posts (post_id, account_id, day, deleted) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (post_id) DO UPDATE SET deleted = posts.deleted OR EXCLUDED.deleted",
            post_id,
            account_id,
            day,
            deleted,
        )

    async def apply_interaction(self, interaction: PostInteraction) -> None:
        e = interaction
        if e.action not in INTERACTION_SQL:
            return
        second = e.comment_id if e.action in ("comment", "uncomment") else int(e.user_id)
        if second is not None:
            await self.conn.execute(INTERACTION_SQL[e.action], int(e.post_id), second)

    async def set_group_buy_participant(self, post_id: int, user_id: int, joined: bool) -> None:
        sql = (
            "INSERT INTO group_buy_participants VALUES ($1, $2) ON CONFLICT DO NOTHING"
            if joined
            else "DELETE FROM group_buy_participants WHERE post_id = $1 AND user_id = $2"
        )
        await self.conn.execute(sql, post_id, user_id)

    async def group_buy_participants(self, post_id: int) -> list[int]:
        rows = await self.conn.fetch(
            "SELECT user_id FROM group_buy_participants WHERE post_id = $1 ORDER BY user_id",
            post_id,
        )
        return [r["user_id"] for r in rows]
