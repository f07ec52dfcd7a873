"""Fanout's writes to the feed keyspace (keys.WRITERS): timelines, feeds and category
feeds, the pull set, and the one marker flip it is granted (keys.GRANTS).

Every feed key a script creates or fills gets the expiry of its user's activity marker
plus keys.FEED_OUTLIVES_SEEN_S (what feedread sets on every read), so the keys of a user
who stops reading all expire together, category feeds and rebuilt feeds too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from shared.feedstore import scripts
from shared.feedstore.keys import PULL_ACCOUNTS, SEEN_READY, seen_key, timeline_key
from shared.feedstore.packed import encode_entry
from shared.redis_cluster import AnyRedis, eval_over_users

# (post id, score, category) of a post going into feeds.
FeedEntry = tuple[bytes, int, str]
# (post id, score) of a post in feeds: the score it went in with (its publish ms).
FeedPost = tuple[bytes, int]


class FeedWriter:
    """The only writer of feeds, timelines and the pull set; every feed kept to `feed_cap`,
    scripts over users run `users_per_call` users at a time."""

    def __init__(self, redis: AnyRedis, feed_cap: int, users_per_call: int) -> None:
        # redis-py types each command for sync and async clients at once (`T | Awaitable[T]`)
        # and EVAL's arguments as str only: mypy checks this code, not those stubs.
        self.redis: Any = redis
        self.feed_cap = feed_cap
        self.users_per_call = users_per_call

    async def add_to_timeline(
        self, account_id: int, category: str, post_id: int, score: int
    ) -> None:
        """Adds a post to the account's timeline and category timeline (idempotent)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (timeline_key(account_id), timeline_key(account_id, category)):
                pipe.zadd(key, {str(post_id): score})
                pipe.zremrangebyrank(key, 0, -self.feed_cap - 1)
            await pipe.execute()

    async def remove_from_timeline(self, account_id: int, category: str, post_id: int) -> None:
        """Takes a post out of the account's timeline and category timeline."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(timeline_key(account_id), str(post_id))
            pipe.zrem(timeline_key(account_id, category), str(post_id))
            await pipe.execute()

    async def push(self, post_id: int, category: str, score: int, users: Sequence[int]) -> int:
        """Adds one post to the feeds of those users who are active; returns how many."""
        args: list[bytes | str | int] = [encode_entry(post_id, score), self.feed_cap, category]
        return await eval_over_users(
            self.redis, scripts.PUSH, users, args, self.users_per_call, seen_key
        )

    async def add_entries(
        self, users: Sequence[int], entries: Sequence[FeedEntry], only_active: bool
    ) -> int:
        """Adds posts (at most `feed_cap` of them) to users' feeds (to active users' only,
        if asked); returns how many users."""
        if not entries or not users:
            return 0
        args: list[bytes | str | int] = [self.feed_cap, 1 if only_active else 0]
        category_of = {encode_entry(m, score): category for m, score, category in entries}
        for entry in sorted(category_of, reverse=True):  # newest first, as feeds hold them
            args += [entry, category_of[entry]]
        # Many entries per user: fewer users per call keeps each call short.
        per_call = max(1, self.users_per_call // len(entries))
        return await eval_over_users(self.redis, scripts.ADD_MANY, users, args, per_call, seen_key)

    async def remove(
        self, users: Sequence[int], categories: Iterable[str], posts: Sequence[FeedPost]
    ) -> None:
        """Takes posts (of these categories, with the scores they went in with) out of
        users' feeds and category feeds."""
        if not posts or not users:
            return
        sorted_categories = sorted(set(categories))
        entries = [encode_entry(member, int(score)) for member, score in posts]
        args: list[str | int | bytes] = [len(sorted_categories), *sorted_categories, *entries]
        await eval_over_users(
            self.redis, scripts.REMOVE, users, args, self.users_per_call, seen_key
        )

    async def mark_feed_ready(self, user_id: int) -> None:
        """Tells feedread the materialized feed is complete (keys.GRANTS: only flips an
        existing marker, keeping its expiry)."""
        await self.redis.set(seen_key(user_id), SEEN_READY, xx=True, keepttl=True)

    async def mark_pulled(self, account_id: int, pull: bool) -> None:
        """Tells feedread whether to merge the account's timeline at read time."""
        if pull:
            await self.redis.sadd(PULL_ACCOUNTS, str(account_id))
        else:
            await self.redis.srem(PULL_ACCOUNTS, str(account_id))

    async def add_pulled(self, account_ids: Iterable[bytes]) -> None:
        """Adds accounts to the pull set."""
        if members := list(account_ids):
            await self.redis.sadd(PULL_ACCOUNTS, *members)

    async def remove_pulled(self, account_ids: Iterable[bytes]) -> None:
        """Takes accounts out of the pull set."""
        if members := list(account_ids):
            await self.redis.srem(PULL_ACCOUNTS, *members)

    async def pulled(self) -> set[bytes]:
        """The pull set as it is in Redis."""
        return set(await self.redis.smembers(PULL_ACCOUNTS))
