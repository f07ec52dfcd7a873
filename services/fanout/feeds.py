"""Fan-out's Redis (its FeedWrites port): the timelines it keeps, the feeds it writes and
the pull set, all written through shared.feedstore's writer API, the keyspace's single
writer of those keys; this module adds the reads of timelines a rebuild needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.fanout.domain import (
    PUSH_BATCH,
    REBUILD_ACCOUNTS_PER_READ,
    Entry,
    NewestEntries,
    merge_newest,
)
from shared.feedstore.keys import timeline_key
from shared.feedstore.writer import FeedWriter as KeyspaceWriter
from shared.redis_cluster import AnyRedis
from shared.vocabulary import CATEGORIES


class FeedWriter:
    """Timelines, feeds and the pull set in Redis."""

    def __init__(self, redis: AnyRedis, feed_cap: int) -> None:
        # redis-py types each command for sync and async clients at once and ZRANGE's
        # bounds as int only: mypy checks this code, not those stubs.
        self.redis: Any = redis
        self.feed_cap = feed_cap
        self.writes = KeyspaceWriter(redis, feed_cap, PUSH_BATCH)

    # ------------------------------------------------------------ timelines

    async def add_to_timeline(
        self, account_id: int, category: str, post_id: int, score: int
    ) -> None:
        await self.writes.add_to_timeline(account_id, category, post_id, score)

    async def remove_from_timeline(self, account_id: int, category: str, post_id: int) -> None:
        await self.writes.remove_from_timeline(account_id, category, post_id)

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
        return await self.writes.push(post_id, category, score, users)

    async def add_entries(
        self, users: Sequence[int], entries: Sequence[Entry], only_active: bool
    ) -> int:
        """Adds posts to users' feeds (to active users' only, if asked); returns users."""
        newest = merge_newest([(e.post_id, e.score) for e in entries], self.feed_cap)
        category = {e.post_id: e.category for e in entries}
        kept = [(member, int(score), category[member]) for member, score in newest]
        return await self.writes.add_entries(users, kept, only_active)

    async def remove(self, users: Sequence[int], entries: Sequence[Entry]) -> None:
        """Takes posts out of users' feeds and category feeds."""
        posts = [(e.post_id, int(e.score)) for e in entries]
        await self.writes.remove(users, {e.category for e in entries}, posts)

    async def mark_feed_ready(self, user_id: int) -> None:
        """Tells feedread the materialized feed is complete."""
        await self.writes.mark_feed_ready(user_id)

    # ------------------------------------------------------------ pull set

    async def mark_pulled(self, account_id: int, pull: bool) -> None:
        """Tells feedread whether to merge the account's timeline at read time."""
        await self.writes.mark_pulled(account_id, pull)

    async def pulled(self) -> set[bytes]:
        return await self.writes.pulled()
