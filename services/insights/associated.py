"""Associated recommendation (关联推荐), ports.Relations: what a user's list
(service.Reads.associated) is built from — Swing lists per account in Redis (written by
services.insights.swing_job from the favourites, purchases and follows of the last days),
the user's own sources and co-follows."""

from __future__ import annotations

import asyncpg

from shared.redis_cluster import AnyRedis

PEERS = 2000  # followers of the user's accounts looked at for co-follows


def related_key(account_id: int | str) -> str:
    """Sorted set: accounts related to `account_id` by Swing score (its own slot)."""
    return f"ins:swing:{{{account_id}}}"


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


class Associated:
    def __init__(self, pool: asyncpg.Pool, redis: AnyRedis) -> None:
        self.pool = pool
        self.redis = redis

    async def sources(self, user_id: int, count: int) -> list[tuple[int, str]]:
        rows = await self.pool.fetch(
            "SELECT account_id, kind FROM interactions WHERE user_id = $1 "
            "ORDER BY at DESC, account_id LIMIT $2",
            user_id,
            count,
        )
        return [(r["account_id"], r["kind"]) for r in rows]

    async def related(self, account_ids: list[int], count: int) -> list[list[int]]:
        if not account_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for account in account_ids:
                pipe.zrevrange(related_key(account), 0, count - 1)
            lists = await pipe.execute()
        return [[int(a) for a in related] for related in lists]

    async def co_follows(self, user_id: int, count: int) -> list[tuple[int, int]]:
        rows = await self.pool.fetch(CO_FOLLOWS_SQL, user_id, PEERS, count)
        return [(r["account_id"], r["via"]) for r in rows]

    async def recommendable(self, user_id: int, account_ids: list[int]) -> dict[int, dict]:
        rows = await self.pool.fetch(
            "SELECT a.account_id, a.handle, a.kind, a.display_name, a.category, a.status "
            "FROM accounts a WHERE a.account_id = ANY($1) AND a.status = 'active' "
            "AND a.kind <> 'consumer' AND a.account_id <> $2 AND NOT EXISTS ("
            "  SELECT 1 FROM follows f WHERE f.user_id = $2 AND f.account_id = a.account_id "
            "  AND f.following)",
            account_ids,
            user_id,
        )
        return {
            r["account_id"]: {
                "id": str(r["account_id"]),
                "handle": r["handle"],
                "kind": r["kind"],
                "display_name": r["display_name"],
                "category": r["category"],
                "status": r["status"],
            }
            for r in rows
        }

    async def followed(self, user_id: int) -> set[str]:
        """Ids of the accounts the user follows now."""
        rows = await self.pool.fetch(
            "SELECT account_id FROM follows WHERE user_id = $1 AND following", user_id
        )
        return {str(r["account_id"]) for r in rows}
