"""Fan-out's Redis: the timelines it keeps, the feeds it writes, and the pull set.

Every feed key a script creates or fills gets the expiry of its user's activity marker
plus shared.feedkeys.FEED_OUTLIVES_SEEN_S (what feedread sets on every read), so the keys
of a user who stops reading all expire together, category feeds and rebuilt feeds too.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.fanout.domain import (
    PUSH_BATCH,
    REBUILD_ACCOUNTS_PER_READ,
    Entry,
    NewestEntries,
    merge_newest,
)
from shared.feedkeys import (
    FEED_OUTLIVES_SEEN_S,
    PULL_ACCOUNTS,
    SEEN_READY,
    feed_key,
    lua_key,
    seen_key,
    timeline_key,
)
from shared.redis_cluster import AnyRedis, eval_over_users
from shared.vocabulary import CATEGORIES

# Scripts over users (shared.redis_cluster.PROLOGUE) build each user's keys with these.
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
-- A feed key lives as long as the user's marker (PTTL `seen_ttl`) and a margin; with no
-- marker (a staff rebuild of an inactive user) only the margin; a marker that never
-- expires leaves the feed without expiry too.
local function expire_with(key, seen_ttl)
  if seen_ttl >= 0 then
    redis.call('PEXPIRE', key, seen_ttl + {FEED_OUTLIVES_SEEN_S * 1000})
  elseif seen_ttl == -2 then
    redis.call('PEXPIRE', key, {FEED_OUTLIVES_SEEN_S * 1000})
  end
end
"""

# One post into active users' feeds and category feeds, each trimmed to the cap.
# ARGV: post id, score, cap, category. Re-adding the same member with the same score
# changes nothing, so redelivered events are harmless. (PTTL -2: no marker, inactive.)
_PUSH = (
    _USER_KEYS
    + """
local post, score, cap, category = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local delivered = 0
for u in each_user() do
  local seen_ttl = redis.call('PTTL', seen_key(u))
  if seen_ttl ~= -2 then
    local feed, category_feed = feed_key(u), category_feed_key(u, category)
    add_to_feeds(feed, category_feed, score, post, cap)
    expire_with(feed, seen_ttl)
    expire_with(category_feed, seen_ttl)
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
  local seen_ttl = redis.call('PTTL', seen_key(u))
  if ARGV[2] == '0' or seen_ttl ~= -2 then
    local feed, category_feeds = feed_key(u), {}
    for e = 3, #ARGV - 3, 3 do
      local category_feed = category_feed_key(u, ARGV[e + 2])
      add_to_feeds(feed, category_feed, ARGV[e + 1], ARGV[e], cap)
      category_feeds[category_feed] = true
    end
    expire_with(feed, seen_ttl)
    for category_feed in pairs(category_feeds) do expire_with(category_feed, seen_ttl) end
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


class FeedWriter:
    """Timelines, feeds and the pull set in Redis."""

    def __init__(self, redis: AnyRedis, feed_cap: int) -> None:
        self.redis = redis
        self.feed_cap = feed_cap

    # ------------------------------------------------------------ timelines

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

    async def newest_of_timelines(self, accounts: Sequence[int], count: int) -> list[Entry]:
        """The `count` newest posts of all these accounts' timelines, newest first. Reads
        a batch of accounts at a time, and of each only entries that can still make the
        cut (at or above the current count-th newest): memory stays bounded by the batch
        whatever the number of accounts."""
        newest: NewestEntries[int] = NewestEntries(count)
        for start in range(0, len(accounts), REBUILD_ACCOUNTS_PER_READ):
            batch = accounts[start : start + REBUILD_ACCOUNTS_PER_READ]
            floor = newest.floor()
            async with self.redis.pipeline(transaction=False) as pipe:
                for account_id in batch:
                    pipe.zrange(
                        timeline_key(account_id),
                        "+inf",
                        "-inf" if floor is None else floor,
                        desc=True,
                        byscore=True,
                        offset=0,
                        num=count,
                        withscores=True,
                    )
                results = await pipe.execute()
            for account_id, raw in zip(batch, results, strict=True):
                for member, score in raw:
                    newest.offer(member, score, account_id)
        kept = newest.newest()
        categories = await self._categories({(a, m) for m, _, a in kept})
        return [Entry(m, s, categories.get(m, "other")) for m, s, _ in kept]

    async def _categories(self, posts: set[tuple[int, bytes]]) -> dict[bytes, str]:
        """Each (account, post id)'s category, from the account's category timelines."""
        by_account: dict[int, list[bytes]] = {}
        for account_id, member in posts:
            by_account.setdefault(account_id, []).append(member)
        asked: list[tuple[str, list[bytes]]] = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for account_id, members in by_account.items():
                for category in CATEGORIES:
                    pipe.zmscore(timeline_key(account_id, category), members)
                    asked.append((category, members))
            results = await pipe.execute() if asked else []
        return {
            member: category
            for (category, members), scores in zip(asked, results, strict=True)
            for member, score in zip(members, scores, strict=True)
            if score is not None
        }

    # ------------------------------------------------------------ feeds

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

    # ------------------------------------------------------------ pull set

    async def mark_pulled(self, account_id: int, pull: bool) -> None:
        """Tells feedread whether to merge the account's timeline at read time."""
        if pull:
            await self.redis.sadd(PULL_ACCOUNTS, str(account_id))
        else:
            await self.redis.srem(PULL_ACCOUNTS, str(account_id))

    async def pulled(self) -> set[bytes]:
        return set(await self.redis.smembers(PULL_ACCOUNTS))
