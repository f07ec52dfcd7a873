"""Fan-out's state: its projection of follows and account modes (Postgres) and the feeds
and timelines it writes (Redis)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg

from services.fanout.domain import PUSH_BATCH, ChunkBounds, merge_newest
from shared.events import AccountChanged, FollowChanged, newest_per_entity
from shared.feedkeys import (
    PULL_ACCOUNTS,
    SEEN_READY,
    feed_key,
    lua_key,
    seen_key,
    timeline_key,
)
from shared.redisx import AnyRedis, eval_over_users
from shared.vocabulary import CATEGORIES

# Scripts over users (shared.redisx.PROLOGUE) build each user's keys with these.
_USER_KEYS = f"""
local function seen_key(u) return {lua_key(seen_key, "u")} end
local function feed_key(u) return {lua_key(feed_key, "u")} end
local function category_feed_key(u, c) return {lua_key(feed_key, "u", "c")} end
-- Adds a post to a user's feed and to one of its category feeds, each kept to the cap.
-- A category feed holds a subset of what went into its feed, so it can only outgrow the
-- cap once the feed is full: one trim call per feed, and the category trim only then.
local function add_to_feeds(feed, category_feed, score, post, cap)
  local full = redis.call('ZADD', feed, score, post) == 1
    and redis.call('ZREMRANGEBYRANK', feed, 0, -cap - 1) > 0
  redis.call('ZADD', category_feed, score, post)
  if full then
    redis.call('ZREMRANGEBYRANK', category_feed, 0, -cap - 1)
  end
end
"""

# One post into active users' feeds and category feeds, each trimmed to the cap.
# ARGV: post id, score, cap, category. Re-adding the same member with the same score
# changes nothing, so redelivered events are harmless.
_PUSH = (
    _USER_KEYS
    + """
local post, score, cap, category = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local delivered = 0
for u in each_user() do
  if redis.call('EXISTS', seen_key(u)) == 1 then
    add_to_feeds(feed_key(u), category_feed_key(u, category), score, post, cap)
    delivered = delivered + 1
  end
end
return delivered
"""
)

# Many posts into users' feeds. ARGV: cap, only_active (1|0), then per post: id, score,
# category.
_ADD_MANY = (
    _USER_KEYS
    + """
local cap = tonumber(ARGV[1])
local touched = 0
for u in each_user() do
  if ARGV[2] == '0' or redis.call('EXISTS', seen_key(u)) == 1 then
    local feed = feed_key(u)
    for e = 3, #ARGV - 3, 3 do
      add_to_feeds(feed, category_feed_key(u, ARGV[e + 2]), ARGV[e + 1], ARGV[e], cap)
    end
    touched = touched + 1
  end
end
return touched
"""
)

# Posts out of users' feeds and category feeds. ARGV: how many categories, the
# categories, then the post ids.
_REMOVE = (
    _USER_KEYS
    + """
local n = tonumber(ARGV[1])
local categories = {unpack(ARGV, 2, n + 1)}
local posts = {unpack(ARGV, n + 2, #ARGV - 1)}
for u in each_user() do
  redis.call('ZREM', feed_key(u), unpack(posts))
  for _, c in ipairs(categories) do
    redis.call('ZREM', category_feed_key(u, c), unpack(posts))
  end
end
return 0
"""
)


@dataclass(frozen=True)
class Entry:
    """A post in a timeline: id, publish time (ms) and category."""

    post_id: bytes
    score: float
    category: str


@dataclass(frozen=True)
class FollowApplied:
    followers: int  # the account's followers after this change
    pull: bool  # whether the account is currently pulled at read time


@dataclass(frozen=True)
class FollowsApplied:
    flipped: list[tuple[int, int, bool]]  # (account, user, now following)
    accounts: dict[int, FollowApplied]  # each touched account after the batch


class FanoutStore:
    def __init__(self, pool: asyncpg.Pool, redis: AnyRedis, feed_cap: int) -> None:
        self.pool = pool
        self.redis = redis
        self.feed_cap = feed_cap

    # ------------------------------------------------------------ projection (Postgres)

    async def apply_follows(self, events: list[FollowChanged]) -> FollowsApplied:
        """Records a batch of follow changes, each unless a newer one is known; returns the
        follows whose state flipped and each touched account's count and mode after."""
        latest = newest_per_entity(events)
        async with self.pool.acquire() as conn, conn.transaction():
            flipped = await conn.fetch(
                "WITH incoming AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], "
                "  $3::boolean[], $4::bigint[]) AS i(account_id, user_id, active, version)), "
                "old AS (SELECT f.account_id, f.user_id, f.active FROM follows f "
                "  JOIN incoming i USING (account_id, user_id)), "
                "upserted AS (INSERT INTO follows SELECT * FROM incoming "
                "  ON CONFLICT (account_id, user_id) DO UPDATE SET active = EXCLUDED.active, "
                "  version = EXCLUDED.version WHERE follows.version < EXCLUDED.version "
                "  RETURNING account_id, user_id, active) "
                "SELECT u.account_id, u.user_id, u.active FROM upserted u "
                "LEFT JOIN old o USING (account_id, user_id) "
                "WHERE COALESCE(o.active, false) <> u.active",
                [int(e.account_id) for e in latest],
                [int(e.user_id) for e in latest],
                [e.following for e in latest],
                [e.version for e in latest],
            )
            if not flipped:
                return FollowsApplied([], {})
            delta: Counter[int] = Counter()
            for row in flipped:
                delta[row["account_id"]] += 1 if row["active"] else -1
            accounts = sorted(delta)
            # Insert-then-update: a VALUES row of -1 would fail the CHECK before ON CONFLICT.
            await conn.execute(
                "INSERT INTO account_modes (account_id) SELECT unnest($1::bigint[]) "
                "ON CONFLICT DO NOTHING",
                accounts,
            )
            modes = await conn.fetch(
                "UPDATE account_modes m SET followers = m.followers + d.delta "
                "FROM unnest($1::bigint[], $2::bigint[]) AS d(account_id, delta) "
                "WHERE m.account_id = d.account_id RETURNING m.account_id, m.followers, m.pull",
                accounts,
                [delta[a] for a in accounts],
            )
        return FollowsApplied(
            [(r["account_id"], r["user_id"], r["active"]) for r in flipped],
            {r["account_id"]: FollowApplied(r["followers"], r["pull"]) for r in modes},
        )

    async def apply_accounts(self, events: list[AccountChanged]) -> list[AccountChanged]:
        """Records whether accounts are suspended; returns the events that flipped that."""
        latest = newest_per_entity(events)
        flipped = await self.pool.fetch(
            "WITH incoming AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) "
            "  AS i(account_id, version, suspended)), "
            "old AS (SELECT s.account_id, s.suspended FROM suspended_accounts s "
            "  JOIN incoming i USING (account_id)), "
            "upserted AS (INSERT INTO suspended_accounts SELECT * FROM incoming "
            "  ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version, "
            "  suspended = EXCLUDED.suspended WHERE suspended_accounts.version < EXCLUDED.version "
            "  RETURNING account_id, suspended) "
            "SELECT u.account_id FROM upserted u LEFT JOIN old o USING (account_id) "
            "WHERE COALESCE(o.suspended, false) <> u.suspended",
            [int(e.account_id) for e in latest],
            [e.version for e in latest],
            [e.status == "suspended" for e in latest],
        )
        changed = {str(r["account_id"]) for r in flipped}
        return [e for e in latest if e.account_id in changed]

    async def is_suspended(self, account_id: int) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT suspended FROM suspended_accounts WHERE account_id = $1", account_id
            )
        )

    async def mode(self, account_id: int) -> FollowApplied:
        row = await self.pool.fetchrow(
            "SELECT followers, pull FROM account_modes WHERE account_id = $1", account_id
        )
        return FollowApplied(row["followers"], row["pull"]) if row else FollowApplied(0, False)

    async def set_pull(self, account_id: int, pull: bool) -> None:
        """Records the mode in Postgres (the truth) and in Redis (what feedread reads)."""
        await self.pool.execute(
            "UPDATE account_modes SET pull = $2 WHERE account_id = $1", account_id, pull
        )
        if pull:
            await self.redis.sadd(PULL_ACCOUNTS, str(account_id))
        else:
            await self.redis.srem(PULL_ACCOUNTS, str(account_id))

    async def sync_pull_set(self) -> None:
        """Makes the Redis pull set match Postgres (after a Redis wipe, say)."""
        truth = {
            str(r["account_id"]).encode()
            for r in await self.pool.fetch("SELECT account_id FROM account_modes WHERE pull")
        }
        current = set(await self.redis.smembers(PULL_ACCOUNTS))
        if truth - current:
            await self.redis.sadd(PULL_ACCOUNTS, *(truth - current))
        if current - truth:
            await self.redis.srem(PULL_ACCOUNTS, *(current - truth))

    async def chunk_end(self, account_id: int, after_user: int, size: int) -> int | None:
        """The user id ending the chunk of `size` followers after `after_user` (in id
        order), or None when fewer remain. One index range scan of `size` entries."""
        return await self.pool.fetchval(
            "SELECT user_id FROM follows WHERE account_id = $1 AND active AND user_id > $2 "
            "ORDER BY user_id OFFSET $3 LIMIT 1",
            account_id,
            after_user,
            size - 1,
        )

    async def followers_in(
        self, account_id: int, bounds: ChunkBounds, limit: int | None = None
    ) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT user_id FROM follows WHERE account_id = $1 AND active AND user_id > $2 "
            "AND ($3::bigint IS NULL OR user_id <= $3) ORDER BY user_id LIMIT $4",
            account_id,
            bounds.after_user,
            bounds.through_user,
            limit,
        )
        return [r["user_id"] for r in rows]

    async def follower_chunks(self, account_id: int, size: int) -> AsyncIterator[list[int]]:
        """The account's current followers, in chunks, by keyset pages (no long cursor)."""
        after = -1
        while True:
            users = await self.followers_in(account_id, ChunkBounds(after, None), size)
            if not users:
                return
            yield users
            if len(users) < size:
                return
            after = users[-1]

    async def followed_accounts(self, user_id: int) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT f.account_id FROM follows f LEFT JOIN account_modes m USING (account_id) "
            "LEFT JOIN suspended_accounts s USING (account_id) WHERE f.user_id = $1 "
            "AND f.active AND NOT COALESCE(m.pull, false) AND NOT COALESCE(s.suspended, false)",
            user_id,
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

    # ------------------------------------------------------------ timelines (Redis)

    async def add_to_timeline(
        self, account_id: int, category: str, post_id: int, score: int
    ) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (timeline_key(account_id), timeline_key(account_id, category)):
                pipe.zadd(key, {str(post_id): score})
                pipe.zremrangebyrank(key, 0, -self.feed_cap - 1)
            await pipe.execute()

    async def remove_from_timeline(self, account_id: int, category: str, post_id: int) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(timeline_key(account_id), str(post_id))
            pipe.zrem(timeline_key(account_id, category), str(post_id))
            await pipe.execute()

    async def timeline(self, account_id: int, count: int) -> list[Entry]:
        """The account's newest `count` posts with their categories, newest first."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(timeline_key(account_id), 0, count - 1, desc=True, withscores=True)
            for category in CATEGORIES:
                pipe.zrange(timeline_key(account_id, category), 0, count - 1, desc=True)
            newest, *by_category = await pipe.execute()
        category_of = {
            m: c for c, members in zip(CATEGORIES, by_category, strict=True) for m in members
        }
        return [Entry(m, s, category_of.get(m, "other")) for m, s in newest]

    # ------------------------------------------------------------ feeds (Redis)

    async def push(self, post_id: int, category: str, score: int, users: Sequence[int]) -> int:
        """Adds one post to the feeds of those users who are active; returns how many."""
        args = [str(post_id), score, self.feed_cap, category]
        return await eval_over_users(self.redis, _PUSH, users, args, PUSH_BATCH, seen_key)

    async def add_entries(
        self, users: Sequence[int], entries: Sequence[Entry], only_active: bool
    ) -> int:
        """Adds posts to users' feeds (to active users' only, if asked); returns users."""
        if not entries or not users:
            return 0
        newest = merge_newest([(e.post_id, e.score) for e in entries], self.feed_cap)
        category = {e.post_id: e.category for e in entries}
        args: list[str | int] = [self.feed_cap, 1 if only_active else 0]
        for member, score in newest:
            args += [member.decode(), int(score), category[member]]
        # Many entries per user: fewer users per call keeps each call short.
        per_call = max(1, PUSH_BATCH // len(newest))
        return await eval_over_users(self.redis, _ADD_MANY, users, args, per_call, seen_key)

    async def remove(self, users: Sequence[int], entries: Sequence[Entry]) -> None:
        """Takes posts out of users' feeds and category feeds."""
        if not entries or not users:
            return
        categories = sorted({e.category for e in entries})
        args = [len(categories), *categories, *(e.post_id for e in entries)]
        await eval_over_users(self.redis, _REMOVE, users, args, PUSH_BATCH, seen_key)

    async def mark_feed_ready(self, user_id: int) -> None:
        """Tells feedread the materialized feed is complete (keeps the marker's expiry)."""
        await self.redis.set(seen_key(user_id), SEEN_READY, xx=True, keepttl=True)
