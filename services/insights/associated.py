"""Associated recommendation (关联推荐): Swing lists per account in Redis, refreshed from
the favourites, purchases and follows of the last days, and a user's list built from
them and from what people who follow the same accounts follow."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.insights.swing import TOP_K, swing, top
from shared.redis_cluster import AnyRedis

SOURCES_PER_USER = 20  # the user's newest favourites and purchases a list starts from
RELATED_PER_SOURCE = 20  # related accounts read per source
PEERS = 2000  # followers of the user's accounts looked at for co-follows


def related_key(account_id: int | str) -> str:
    """Sorted set: accounts related to `account_id` by Swing score (its own slot)."""
    return f"ins:swing:{{{account_id}}}"


INTERACTIONS_SQL = """
SELECT user_id, account_id FROM interactions WHERE at >= $1
UNION
SELECT user_id, account_id FROM follows WHERE following AND at >= $1
"""

CO_FOLLOWS_SQL = """
WITH mine AS (SELECT account_id FROM follows WHERE user_id = $1 AND following),
peers AS (
    SELECT f.user_id, f.account_id AS via FROM follows f JOIN mine USING (account_id)
    WHERE f.following AND f.user_id <> $1 LIMIT $2
)
SELECT o.account_id, p.via, count(*) AS n
FROM peers p JOIN follows o ON o.user_id = p.user_id AND o.following
WHERE o.account_id NOT IN (SELECT account_id FROM mine) AND o.account_id <> $1
GROUP BY o.account_id, p.via ORDER BY n DESC, o.account_id LIMIT $3
"""


def _swing_of_rows(rows: list[asyncpg.Record]) -> dict[int, dict[int, float]]:
    items_of_user: dict[int, set[int]] = defaultdict(set)
    for user_id, account_id in rows:
        items_of_user[user_id].add(account_id)
    return swing(items_of_user)


class Associated:
    def __init__(self, pool: asyncpg.Pool, redis: AnyRedis, window_days: int) -> None:
        self.pool = pool
        self.redis = redis
        self.window_days = window_days

    async def refresh(self, now: datetime) -> int:
        """Recomputes every account's Swing list from the window; how many were written."""
        rows = await self.pool.fetch(INTERACTIONS_SQL, now - timedelta(days=self.window_days))
        scores = await asyncio.to_thread(_swing_of_rows, rows)  # CPU-bound: off the loop
        async with self.redis.pipeline(transaction=False) as pipe:
            for account, related in scores.items():
                best = top(related, TOP_K)
                pipe.delete(related_key(account))
                if best:
                    pipe.zadd(related_key(account), {str(j): s for j, s in best})
            await pipe.execute()
        return len(scores)

    async def for_user(self, user_id: int, limit: int) -> list[dict[str, Any]]:
        """Related accounts of the user's favourites and purchases, then co-follows;
        never one followed, suspended, a consumer or the user."""
        sources = await self.pool.fetch(
            "SELECT account_id, kind FROM interactions WHERE user_id = $1 "
            "ORDER BY at DESC, account_id LIMIT $2",
            user_id,
            SOURCES_PER_USER,
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for s in sources:
                pipe.zrevrange(related_key(s["account_id"]), 0, RELATED_PER_SOURCE - 1)
            lists = await pipe.execute() if sources else []
        candidates: list[tuple[int, str, int]] = []  # (account, because, related_to)
        for s, related in zip(sources, lists, strict=True):
            candidates.extend((int(a), s["kind"], s["account_id"]) for a in related)
        for r in await self.pool.fetch(CO_FOLLOWS_SQL, user_id, PEERS, 4 * limit):
            candidates.append((r["account_id"], "co_follow", r["via"]))
        return await self._keep_allowed(user_id, candidates, limit)

    async def _keep_allowed(
        self, user_id: int, candidates: list[tuple[int, str, int]], limit: int
    ) -> list[dict[str, Any]]:
        ids = sorted({c[0] for c in candidates})
        rows = await self.pool.fetch(
            "SELECT a.account_id, a.handle, a.kind, a.display_name, a.category, a.status "
            "FROM accounts a WHERE a.account_id = ANY($1) AND a.status = 'active' "
            "AND a.kind <> 'consumer' AND a.account_id <> $2 AND NOT EXISTS ("
            "  SELECT 1 FROM follows f WHERE f.user_id = $2 AND f.account_id = a.account_id "
            "  AND f.following)",
            ids,
            user_id,
        )
        allowed = {r["account_id"]: r for r in rows}
        items, seen = [], set()
        for account, because, related_to in candidates:
            if account in allowed and account not in seen:
                seen.add(account)
                r = allowed[account]
                items.append(
                    {
                        "account": {
                            "id": str(account),
                            "handle": r["handle"],
                            "kind": r["kind"],
                            "display_name": r["display_name"],
                            "category": r["category"],
                            "status": r["status"],
                        },
                        "because": because,
                        "related_to": str(related_to),
                    }
                )
        return items[:limit]

    async def followed(self, user_id: int) -> set[str]:
        """Ids of the accounts the user follows now."""
        rows = await self.pool.fetch(
            "SELECT account_id FROM follows WHERE user_id = $1 AND following", user_id
        )
        return {str(r["account_id"]) for r in rows}
