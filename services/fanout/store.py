"""Fan-out's state: its follows projection (Postgres) and the feeds it writes (Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import redis.asyncio as aioredis

from services.fanout.domain import merge_newest
from shared.events import AccountChanged, FollowChanged
from shared.feedkeys import feed_key, timeline_key

# Adds one post to many feeds and trims each to the cap, all inside Redis: one round
# trip serves a whole chunk of followers. Re-adding the same member with the same score
# changes nothing, so redelivered events are harmless.
_PUSH = """
local cap = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  if redis.call('ZADD', key, ARGV[2], ARGV[1]) == 1 and redis.call('ZCARD', key) > cap then
    redis.call('ZREMRANGEBYRANK', key, 0, -cap - 1)
  end
end
return #KEYS
"""

# Removes the given posts (ARGV) from every feed in KEYS.
_REMOVE = """
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, unpack(ARGV))
end
return #KEYS
"""


class FanoutStore:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, feed_cap: int) -> None:
        self.pool = pool
        self.redis = redis
        self.feed_cap = feed_cap
        self._push = redis.register_script(_PUSH)
        self._remove = redis.register_script(_REMOVE)

    # ------------------------------------------------------------ projection (Postgres)

    async def apply_follow(self, event: FollowChanged) -> bool:
        """Records a follow change unless a newer one is known; True when it was applied."""
        applied = await self.pool.fetchval(
            "INSERT INTO follows (account_id, user_id, active, version) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (account_id, user_id) DO UPDATE SET active = EXCLUDED.active, "
            "version = EXCLUDED.version WHERE follows.version < EXCLUDED.version RETURNING 1",
            int(event.account_id),
            int(event.user_id),
            event.following,
            event.version,
        )
        return applied is not None

    async def apply_account(self, event: AccountChanged) -> bool:
        """Records whether an account is suspended; True when this event flipped that."""
        flipped = await self.pool.fetchval(
            "WITH old AS (SELECT suspended FROM suspended_accounts WHERE account_id = $1) "
            "INSERT INTO suspended_accounts (account_id, version, suspended) "
            "VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET "
            "version = EXCLUDED.version, suspended = EXCLUDED.suspended "
            "WHERE suspended_accounts.version < EXCLUDED.version "
            "RETURNING COALESCE((SELECT suspended FROM old), false) <> suspended",
            int(event.account_id),
            event.version,
            event.status == "suspended",
        )
        return bool(flipped)

    async def is_suspended(self, account_id: int) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT suspended FROM suspended_accounts WHERE account_id = $1", account_id
            )
        )

    async def follower_chunks(self, account_id: int, size: int) -> AsyncIterator[list[int]]:
        """The account's current followers, in chunks, by keyset pages (no long cursor)."""
        after = -1
        while True:
            rows = await self.pool.fetch(
                "SELECT user_id FROM follows WHERE account_id = $1 AND active AND user_id > $2 "
                "ORDER BY user_id LIMIT $3",
                account_id,
                after,
                size,
            )
            if not rows:
                return
            users = [r["user_id"] for r in rows]
            yield users
            if len(users) < size:
                return
            after = users[-1]

    async def followed_accounts(self, user_id: int) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT account_id FROM follows WHERE user_id = $1 AND active", user_id
        )
        return [r["account_id"] for r in rows]

    async def mark_deleted(self, post_id: int) -> None:
        await self.pool.execute(
            "INSERT INTO deleted_posts (post_id) VALUES ($1) ON CONFLICT DO NOTHING", post_id
        )

    async def is_deleted(self, post_id: int) -> bool:
        return bool(
            await self.pool.fetchval("SELECT true FROM deleted_posts WHERE post_id = $1", post_id)
        )

    # ------------------------------------------------------------ feeds (Redis)

    async def add_to_timeline(self, account_id: int, post_id: int, score: int) -> None:
        key = timeline_key(account_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {str(post_id): score})
            pipe.zremrangebyrank(key, 0, -self.feed_cap - 1)
            await pipe.execute()

    async def remove_from_timeline(self, account_id: int, post_id: int) -> None:
        await self.redis.zrem(timeline_key(account_id), str(post_id))

    async def timeline(self, account_id: int, count: int) -> list[tuple[bytes, float]]:
        """The account's newest `count` posts as (post id, score), newest first."""
        return await self.redis.zrange(
            timeline_key(account_id), 0, count - 1, desc=True, withscores=True
        )

    async def push(self, post_id: int, score: int, users: Sequence[int]) -> int:
        """Adds one post to each user's feed (one script call); returns feeds written."""
        if not users:
            return 0
        return await self._push(
            keys=[feed_key(u) for u in users], args=[str(post_id), score, self.feed_cap]
        )

    async def remove(self, post_ids: Sequence[bytes | str], users: Sequence[int]) -> None:
        """Removes posts from each user's feed (one script call)."""
        if post_ids and users:
            await self._remove(keys=[feed_key(u) for u in users], args=list(post_ids))

    async def backfill(self, user_id: int, entries: Sequence[tuple[bytes, float]]) -> None:
        """Adds an account's recent posts to one feed, keeping the cap."""
        if not entries:
            return
        key = feed_key(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, dict(entries))
            pipe.zremrangebyrank(key, 0, -self.feed_cap - 1)
            await pipe.execute()

    async def replace_feed(self, user_id: int, entries: Sequence[tuple[bytes, float]]) -> None:
        """Swaps in a rebuilt feed atomically (readers see the old or the new, never half)."""
        key = feed_key(user_id)
        newest = merge_newest(entries, self.feed_cap)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if newest:
                pipe.zadd(key, dict(newest))
            await pipe.execute()
