"""Insights' reads for operator data: an account's days and a post's totals, computed
from the exact per-user rows the consumer keeps (no sketch: see docs/insights.md)."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import asyncpg

from services.insights.domain import (
    REVISIT_LOOKBACK_DAYS,
    UnknownAccount,
    UnknownPost,
    day_row,
    window,
)

# API.md "Projections": an entity that exists but whose event has not arrived yet is
# waited for (bounded) before the answer says it is unknown.
PROJECTION_WAIT_S = 2.0
PROJECTION_POLL_S = 0.1

ENGAGEMENT_BY_DAY = """
SELECT day,
       sum(impressions)::bigint AS impressions,
       count(*) FILTER (WHERE impressions > 0) AS reach,
       sum(views)::bigint AS views,
       count(*) FILTER (WHERE views > 0) AS unique_visitors,
       sum(dwell_ms)::bigint AS dwell_ms,
       sum(dwell_reports)::bigint AS dwell_reports,
       sum(clicks)::bigint AS clicks,
       sum(favorites)::bigint AS favorites,
       sum(purchases)::bigint AS purchases,
       sum(gmv_cents)::bigint AS gmv_cents,
       count(*) FILTER (WHERE purchases > 0) AS buyers
FROM user_day WHERE account_id = $1 AND day BETWEEN $2 AND $3 GROUP BY day
"""

REVISITORS_BY_DAY = f"""
SELECT d.day, count(*) AS revisitors
FROM user_day d
WHERE d.account_id = $1 AND d.day BETWEEN $2 AND $3 AND d.views > 0
  AND EXISTS (SELECT 1 FROM user_day p
              WHERE p.account_id = d.account_id AND p.user_id = d.user_id AND p.views > 0
                AND p.day BETWEEN d.day - {REVISIT_LOOKBACK_DAYS} AND d.day - 1)
GROUP BY d.day
"""

FOLLOWS_BY_DAY = """
SELECT day,
       count(*) FILTER (WHERE following) AS gained,
       count(*) FILTER (WHERE following AND source = 'api') AS gained_api,
       count(*) FILTER (WHERE following AND source = 'qr') AS gained_qr,
       count(*) FILTER (WHERE following AND source = 'recommendation') AS gained_recommendation,
       count(*) FILTER (WHERE NOT following) AS lost
FROM follow_log WHERE account_id = $1 AND day BETWEEN $2 AND $3 GROUP BY day
"""


class StatsReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _wait_for(self, sql: str, entity_id: int) -> bool:
        deadline = time.monotonic() + PROJECTION_WAIT_S
        while True:
            if await self.pool.fetchval(sql, entity_id):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(PROJECTION_POLL_S)

    async def account_owner_known(self, account_id: int) -> None:
        """Raises UnknownAccount when the account has not reached insights (after waiting)."""
        if not await self._wait_for("SELECT true FROM accounts WHERE account_id = $1", account_id):
            raise UnknownAccount("account not found", account_id=str(account_id))

    async def post_owner(self, post_id: int) -> int:
        """The author of a post insights knows (after waiting); UnknownPost otherwise."""
        sql = "SELECT true FROM posts WHERE post_id = $1"
        if not await self._wait_for(sql, post_id):
            raise UnknownPost("post not found", post_id=str(post_id))
        return await self.pool.fetchval("SELECT account_id FROM posts WHERE post_id = $1", post_id)

    async def account_days(self, account_id: int, days: int, today: date) -> list[dict[str, Any]]:
        """API.md's rows for the `days` Shanghai days ending `today`, oldest first."""
        dates = window(today, days)
        first, last = dates[0], dates[-1]
        async with self.pool.acquire() as conn:
            engagement = {
                r["day"]: dict(r)
                for r in await conn.fetch(ENGAGEMENT_BY_DAY, account_id, first, last)
            }
            revisitors = {
                r["day"]: r["revisitors"]
                for r in await conn.fetch(REVISITORS_BY_DAY, account_id, first, last)
            }
            follows = {
                r["day"]: dict(r) for r in await conn.fetch(FOLLOWS_BY_DAY, account_id, first, last)
            }
            followers_before = await conn.fetchval(
                "SELECT coalesce(sum(CASE WHEN following THEN 1 ELSE -1 END), 0) "
                "FROM follow_log WHERE account_id = $1 AND day < $2",
                account_id,
                first,
            )
            posts = dict(
                await conn.fetch(
                    "SELECT day, count(*) FROM posts WHERE account_id = $1 "
                    "AND day BETWEEN $2 AND $3 GROUP BY day",
                    account_id,
                    first,
                    last,
                )
            )
            suspicious = dict(
                await conn.fetch(
                    "SELECT day, count(*) FROM suspicious WHERE account_id = $1 "
                    "AND day BETWEEN $2 AND $3 GROUP BY day",
                    account_id,
                    first,
                    last,
                )
            )
        rows = []
        total = followers_before
        for day in dates:
            f = follows.get(day, {})
            total += f.get("gained", 0) - f.get("lost", 0)
            rows.append(
                day_row(
                    day,
                    total,
                    f,
                    posts.get(day, 0),
                    engagement.get(day),
                    revisitors.get(day, 0),
                    suspicious.get(day, 0),
                )
            )
        return rows

    async def post_totals(self, post_id: int) -> dict[str, int]:
        """API.md's post stats: engagement totals and the interactions standing now."""
        row = await self.pool.fetchrow(
            """
            SELECT coalesce(sum(impressions), 0)::bigint AS impressions,
                   count(*) FILTER (WHERE impressions > 0) AS reach,
                   coalesce(sum(views), 0)::bigint AS views,
                   coalesce(sum(clicks), 0)::bigint AS clicks,
                   coalesce(sum(purchases), 0)::bigint AS purchases,
                   coalesce(sum(gmv_cents), 0)::bigint AS gmv_cents,
                   (SELECT count(*) FROM post_likes WHERE post_id = $1) AS likes,
                   (SELECT count(*) FROM post_comments WHERE post_id = $1) AS comments,
                   (SELECT count(*) FROM post_votes WHERE post_id = $1) AS votes
            FROM post_user WHERE post_id = $1
            """,
            post_id,
        )
        return dict(row)
