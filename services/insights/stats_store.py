"""Insights' reads for operator data (ports.StatsSource): an account's counts per day
and a post's totals, from the exact per-user rows the consumer keeps (no sketch: see
docs/insights.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.insights.domain import REVISIT_LOOKBACK_DAYS, AccountCounts

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


POSTS_BY_DAY = """
SELECT day, count(*) AS n FROM posts WHERE account_id = $1 AND day BETWEEN $2 AND $3
GROUP BY day
"""

SUSPICIOUS_BY_DAY = """
SELECT day, count(*) AS n FROM suspicious WHERE account_id = $1 AND day BETWEEN $2 AND $3
GROUP BY day
"""


class StatsReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def account_known(self, account_id: int) -> bool:
        return bool(
            await self.pool.fetchval("SELECT true FROM accounts WHERE account_id = $1", account_id)
        )

    async def post_author(self, post_id: int) -> int | None:
        return await self.pool.fetchval("SELECT account_id FROM posts WHERE post_id = $1", post_id)

    async def account_counts(self, account_id: int, first: date, last: date) -> AccountCounts:
        async with self.pool.acquire() as conn:

            async def by_day(sql: str) -> dict[date, Any]:
                rows = await conn.fetch(sql, account_id, first, last)
                return {r["day"]: dict(r) for r in rows}

            engagement = await by_day(ENGAGEMENT_BY_DAY)
            revisitors = await by_day(REVISITORS_BY_DAY)
            posts = await by_day(POSTS_BY_DAY)
            suspicious = await by_day(SUSPICIOUS_BY_DAY)
            return AccountCounts(
                engagement=engagement,
                revisitors={day: r["revisitors"] for day, r in revisitors.items()},
                follows=await by_day(FOLLOWS_BY_DAY),
                posts={day: r["n"] for day, r in posts.items()},
                suspicious={day: r["n"] for day, r in suspicious.items()},
                followers_before=await conn.fetchval(
                    "SELECT coalesce(sum(CASE WHEN following THEN 1 ELSE -1 END), 0) "
                    "FROM follow_log WHERE account_id = $1 AND day < $2",
                    account_id,
                    first,
                ),
            )

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
