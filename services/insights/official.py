"""Official recommendation (官方推荐), kept fresh incrementally and served from Redis.

Engagement and account events mark accounts dirty (dirty_accounts, in the transaction
that applies them). A refresh recomputes only the dirty accounts' components over the
window, then re-ranks their categories from the stored components of every account of
each (one row an account, no event scan) and swaps the category's ranking into Redis.
At a Shanghai midnight the window moves, so every candidate is marked dirty once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import asyncpg
import orjson

from services.insights.ranking import Observed, rank_category
from shared.redis_cluster import AnyRedis

# Past this many of one kind of event per user, account and day, more add nothing to the
# recommendation (an operator's friend reloading 500 times counts like one keen reader).
EVENTS_PER_USER_DAY_CAP = 5
# One hash tag, one Cluster slot: a category's ranking is swapped in by one script.
RANK_ALL = "ins:{official}:rank:all"
DETAIL = "ins:{official}:detail"

# Replaces a category's ranking (KEYS[1]) with ARGV's (account, score, detail) triples,
# keeping the all-categories ranking (KEYS[2]) and the details (KEYS[3]) in step:
# accounts no longer listed leave all three. Atomic, so a reader never sees half.
SWAP_CATEGORY = """
local keep = {}
for i = 1, #ARGV, 3 do keep[ARGV[i]] = true end
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not keep[member] then
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[3], member)
  end
end
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
end
return #ARGV / 3
"""
REFRESH_LOCK = 7_170_001  # advisory lock id: one refresher at a time, whatever the replicas


def rank_key(category: str) -> str:
    """Sorted set: a category's candidates by score."""
    return f"ins:{{official}}:rank:{category}"


COMPONENTS_SQL = f"""
WITH honest AS (
    SELECT account_id, day, user_id,
           least(views, {EVENTS_PER_USER_DAY_CAP}) AS views,
           least(purchases, {EVENTS_PER_USER_DAY_CAP}) AS purchases,
           least(dwell_reports, {EVENTS_PER_USER_DAY_CAP}) AS dwell_reports,
           CASE WHEN dwell_reports = 0 THEN 0
                ELSE dwell_ms * least(dwell_reports, {EVENTS_PER_USER_DAY_CAP}) / dwell_reports
           END AS dwell_ms
    FROM user_day u
    WHERE account_id = ANY($1) AND day BETWEEN $2::date - 6 AND $3::date
      AND NOT EXISTS (SELECT 1 FROM suspicious s WHERE s.user_id = u.user_id)
), in_window AS (
    SELECT h.*, EXISTS (
        SELECT 1 FROM honest p
        WHERE p.account_id = h.account_id AND p.user_id = h.user_id AND p.views > 0
          AND p.day BETWEEN h.day - 6 AND h.day - 1) AS revisit
    FROM honest h WHERE h.day BETWEEN $2::date AND $3::date
)
SELECT account_id,
       count(*) FILTER (WHERE views > 0) AS visitor_days,
       count(*) FILTER (WHERE views > 0 AND revisit) AS revisit_days,
       count(DISTINCT user_id) FILTER (WHERE views > 0) AS visitors,
       count(DISTINCT user_id) FILTER (WHERE views > 0 AND purchases > 0) AS buyers,
       coalesce(sum(views), 0)::bigint AS views,
       coalesce(sum(dwell_ms), 0)::bigint AS dwell_ms,
       coalesce(sum(dwell_reports), 0)::bigint AS dwell_reports
FROM in_window GROUP BY account_id
"""


def components_of(row: dict[str, Any] | None) -> dict[str, list[float]]:
    """(total, count) of each component from an account's window aggregate."""
    r = row or {}
    visitors = r.get("visitors", 0)
    return {
        "revisit_rate": [r.get("revisit_days", 0), r.get("visitor_days", 0)],
        "conversion_rate": [r.get("buyers", 0), visitors],
        "views_per_visitor": [r.get("views", 0), visitors],
        "avg_dwell_ms": [r.get("dwell_ms", 0), r.get("dwell_reports", 0)],
    }


class OfficialRanking:
    def __init__(self, pool: asyncpg.Pool, redis: AnyRedis, window_days: int) -> None:
        self.pool = pool
        self.redis: Any = redis  # redis-py's stubs type EVAL's arguments as str only
        self.window_days = window_days
        self._day: date | None = None

    async def refresh(self, today: date) -> int:
        """Re-ranks the categories of accounts marked dirty; how many accounts were."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", REFRESH_LOCK)
            if today != self._day:
                await conn.execute(
                    "INSERT INTO dirty_accounts SELECT account_id FROM accounts "
                    "WHERE kind <> 'consumer' ON CONFLICT DO NOTHING"
                )
            dirty = [
                r["account_id"]
                for r in await conn.fetch("DELETE FROM dirty_accounts RETURNING account_id")
            ]
            if not dirty:
                self._day = today
                return 0
            candidates = {
                r["account_id"]: r["category"] or "other"
                for r in await conn.fetch(
                    "SELECT account_id, category FROM accounts WHERE account_id = ANY($1) "
                    "AND kind <> 'consumer' AND status = 'active'",
                    dirty,
                )
            }
            first = today - timedelta(days=self.window_days - 1)
            rows = {
                r["account_id"]: dict(r)
                for r in await conn.fetch(COMPONENTS_SQL, list(candidates), first, today)
            }
            await conn.execute("DELETE FROM official_components WHERE account_id = ANY($1)", dirty)
            await conn.executemany(
                "INSERT INTO official_components VALUES ($1, $2, $3)",
                [(aid, cat, components_of(rows.get(aid))) for aid, cat in candidates.items()],
            )
            categories = set(candidates.values()) | set(
                r["category"] or "other"
                for r in await conn.fetch(
                    "SELECT category FROM accounts WHERE account_id = ANY($1)", dirty
                )
            )
            for category in sorted(categories):
                await self._publish_category(conn, category)
            await self._drop(dirty, keep=set(candidates))
        self._day = today
        return len(dirty)

    async def _publish_category(self, conn: asyncpg.Connection, category: str) -> None:
        rows = await conn.fetch(
            "SELECT c.account_id, c.components, a.handle, a.display_name, a.kind, a.status "
            "FROM official_components c JOIN accounts a USING (account_id) "
            "WHERE c.category = $1 AND a.status = 'active'",
            category,
        )
        observed = {
            r["account_id"]: {name: Observed(*tc) for name, tc in r["components"].items()}
            for r in rows
        }
        # Every account shapes the category's priors; only those with activity in the
        # window are listed (a recommendation "by user activity" needs some).
        ranked = [r for r in rank_category(observed) if _active(observed[r.account_id])]
        accounts = {r["account_id"]: r for r in rows}
        entries: list[str | bytes | float] = []
        for r in ranked:
            detail = {
                "account": _account(accounts[r.account_id], category),
                "score": r.score,
                "components": r.components,
            }
            entries.extend((str(r.account_id), r.score, orjson.dumps(detail)))
        await self.redis.eval(SWAP_CATEGORY, 3, rank_key(category), RANK_ALL, DETAIL, *entries)

    async def _drop(self, account_ids: Sequence[int], keep: set[int]) -> None:
        gone = [str(a) for a in account_ids if a not in keep]
        if gone:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrem(RANK_ALL, *gone)
                pipe.hdel(DETAIL, *gone)
                await pipe.execute()

    async def forget(self, account_ids: Sequence[int]) -> None:
        """Takes accounts that are not active now out of every list at once."""
        rows = await self.pool.fetch(
            "SELECT account_id, category FROM accounts WHERE account_id = ANY($1) "
            "AND status <> 'active'",
            list(account_ids),
        )
        if not rows:
            return
        by_category: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            by_category[r["category"] or "other"].append(str(r["account_id"]))
        async with self.redis.pipeline(transaction=False) as pipe:
            for category, members in by_category.items():
                pipe.zrem(rank_key(category), *members)
                pipe.zrem(RANK_ALL, *members)
                pipe.hdel(DETAIL, *members)
            await pipe.execute()

    async def top(self, category: str | None, count: int) -> list[dict[str, Any]]:
        """The best `count` candidates (of one category, or all), with their details."""
        key = rank_key(category) if category else RANK_ALL
        members = await self.redis.zrevrange(key, 0, count - 1)
        if not members:
            return []
        details = await self.redis.hmget(DETAIL, members)
        return [orjson.loads(d) for d in details if d is not None]


def _active(components: dict[str, Observed]) -> bool:
    return any(o.count > 0 for o in components.values())


def _account(row: asyncpg.Record, category: str) -> dict[str, Any]:
    return {
        "id": str(row["account_id"]),
        "handle": row["handle"],
        "kind": row["kind"],
        "display_name": row["display_name"],
        "category": category,
        "status": row["status"],
    }
