"""Feedread's page reads on the real Redis: paging never skips or repeats an entry while
entries leave or join a source between two reads, a user following thousands of pulled
accounts costs a bounded read, and post projections expire with the feed horizon."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson

from services.feedread.domain import POST_HORIZON_MS, Position
from services.feedread.service import Feedread
from services.feedread.store import FeedStore
from shared.events import AccountChanged, FeedRebuildRequested, FollowChanged, PostPublished
from shared.feedstore.keys import SEEN_READY, feed_key, post_key, seen_key, timeline_key
from shared.ids import IdGenerator
from shared.redis_cluster import AnyRedis
from tests.fakes.feedread import FakeEngagementLedger, FakeEventSender

ids = IdGenerator(worker=1009)


class BetweenReads:
    """The real client, but `action` runs before the `nth` read of ranges executes (a
    command or a pipeline reading ranges: a script, the touch too, or ZRANGE): another
    writer acting while a page is being read."""

    def __init__(self, redis: AnyRedis, nth: int, action: Any) -> None:
        self.redis, self.nth, self.action = redis, nth, action
        self.reads = 0
        self.entries_read = 0
        self.largest_read = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)

    def pipeline(self, **options: Any) -> _Pipeline:
        return _Pipeline(self, self.redis.pipeline(**options))

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] in RANGE_READS:
            await self.before_read(1)
        return await self.redis.execute_command(*args, **options)

    async def before_read(self, commands: int) -> None:
        self.reads += 1
        self.largest_read = max(self.largest_read, commands)
        if self.reads == self.nth:
            await self.action()


RANGE_READS = ("EVAL", "EVALSHA", "ZRANGE")


class _Pipeline:
    def __init__(self, owner: BetweenReads, pipe: Any) -> None:
        self.owner, self.pipe, self.ranges = owner, pipe, 0
        self.names: list[str] = []

    async def __aenter__(self) -> _Pipeline:
        await self.pipe.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.pipe.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self.ranges += args[0] in RANGE_READS
        self.names.append(args[0])
        return self.pipe.execute_command(*args, **kwargs)

    async def execute(self, **options: Any) -> list[Any]:
        if not self.ranges:
            return await self.pipe.execute(**options)
        await self.owner.before_read(self.ranges)
        results = await self.pipe.execute(**options)
        self.owner.entries_read += sum(
            len(r) // 2 if name == "ZRANGE" else len(r)  # ZRANGE: member, score, ...
            for name, r in zip(self.names, results, strict=True)
            if name in RANGE_READS and isinstance(r, list)
        )
        return results


def account_event(account_id: int) -> AccountChanged:
    return AccountChanged(
        account_id=str(account_id),
        handle=f"h{account_id}",
        kind="seller",
        display_name="店",
        category="beauty",
        status="active",
        created_at="2026-11-25T00:00:00.000Z",
        change="created",
        version=1,
    )


def follow_event(user: int, account: int) -> FollowChanged:
    return FollowChanged(
        user_id=str(user),
        account_id=str(account),
        following=True,
        source="api",
        version=1,
        at="2026-11-25T00:00:00.000Z",
    )


def post_event(account: int, post_id: int, ms: int) -> PostPublished:
    post = {"id": str(post_id), "account_id": str(account), "category": "beauty", "title": "t"}
    return PostPublished(
        post_id=str(post_id), account_id=str(account), category="beauty", published_ms=ms, post=post
    )


async def a_user_following(redis: AnyRedis, posts: dict[int, list[tuple[int, int]]]) -> int:
    """A user following the accounts of `posts`, whose posts (id, ms) feedread knows."""
    store = FeedStore(redis, active_ttl_s=600)
    user = ids.next_id()
    await store.apply_accounts([account_event(a) for a in posts])
    await store.apply_follows([follow_event(user, a) for a in posts])
    async with redis.pipeline(transaction=False) as pipe:
        for account, entries in posts.items():
            for post_id, ms in entries:
                pipe.set(post_key(post_id), orjson.dumps(post_event(account, post_id, ms).post))
                pipe.expire(post_key(post_id), 3600)
        await pipe.execute()
    return user


def now_ms() -> int:
    return int(time.time() * 1000)


def pages_of(store: FeedStore) -> Feedread:
    """Feedread's page use case on the real store (events kept in memory)."""
    return Feedread(store, FakeEngagementLedger(), FakeEventSender())


async def all_pages(store: FeedStore, user: int, limit: int) -> list[str]:
    served: list[str] = []
    cursor: Position | None = None
    while True:
        page = await pages_of(store).page(user, limit, cursor, None)
        served.extend(item.post["id"] for item in page.items)
        if page.next_position is None:
            return served
        cursor = page.next_position


async def test_an_entry_removed_above_the_read_position_makes_no_page_skip_one(redis):
    """Before the fix a second read of the feed went on by offset: one entry removed
    above it made the read miss the entry that slid into its place. The newest 50
    entries are of an unfollowed shop, so the page reads past its first 100 entries."""
    shop, unfollowed = ids.next_id(), ids.next_id()
    base = now_ms() - 3_600_000
    posts = [(ids.next_id(), base + n) for n in range(150)]
    user = await a_user_following(redis, {shop: posts[:100], unfollowed: posts[100:]})
    await FeedStore(redis, 600).apply_follows(
        [replace(follow_event(user, unfollowed), following=False, version=2)]
    )
    await redis.zadd(feed_key(user), {str(p): ms for p, ms in posts})
    await redis.set(seen_key(user), SEEN_READY, ex=600)
    newest_first = [str(p) for p, _ in reversed(posts)]

    async def remove_one_already_read() -> None:
        await redis.zrem(feed_key(user), newest_first[10])

    store = FeedStore(BetweenReads(redis, nth=2, action=remove_one_already_read), 600)
    assert await all_pages(store, user, limit=100) == newest_first[50:]


async def test_entries_joining_below_the_read_position_are_served_once(redis):
    shop = ids.next_id()
    base = now_ms() - 3_600_000
    posts = [(ids.next_id(), base + 10 * n) for n in range(60)]
    backfilled = (ids.next_id(), base - 5)  # older than everything: joins below
    on_top = (ids.next_id(), base + 10_000)  # newer than the first page: after the cursor
    user = await a_user_following(redis, {shop: [*posts, backfilled, on_top]})
    await redis.zadd(feed_key(user), {str(p): ms for p, ms in posts})
    await redis.set(seen_key(user), SEEN_READY, ex=600)

    async def add_two() -> None:
        await redis.zadd(feed_key(user), {str(p): ms for p, ms in (backfilled, on_top)})

    store = FeedStore(BetweenReads(redis, nth=2, action=add_two), 600)
    served = await all_pages(store, user, limit=20)
    assert served == [str(p) for p, _ in reversed(posts)] + [str(backfilled[0])]


async def test_a_returning_user_following_2000_accounts_gets_exact_pages_at_bounded_cost(redis):
    """An inactive user's page merges every followed timeline: it reads one head per
    timeline in bounded batches, not a hundred entries per timeline."""
    base = now_ms() - 86_400_000
    posts = {
        ids.next_id(): [(ids.next_id(), base + n * 7919 % 86_400_000 + k) for k in range(10)]
        for n in range(2000)
    }
    user = await a_user_following(redis, posts)
    async with redis.pipeline(transaction=False) as pipe:
        for account, entries in posts.items():
            pipe.zadd(timeline_key(account), {str(p): ms for p, ms in entries})
        await pipe.execute()
    everything = sorted(
        ((ms, str(p).encode()) for entries in posts.values() for p, ms in entries), reverse=True
    )
    reads = BetweenReads(redis, nth=0, action=None)
    events = FakeEventSender()
    feedread = Feedread(FeedStore(reads, active_ttl_s=600), FakeEngagementLedger(), events)

    first = await feedread.page(user, 20, None, None)
    assert [type(e) for e in events.sent] == [FeedRebuildRequested]  # the feed is rebuilt
    assert [i.post["id"] for i in first.items] == [m.decode() for _, m in everything[:20]]
    assert reads.entries_read <= 2000 + 25 * 25  # a head per timeline, then what a page needs
    assert reads.largest_read <= 500  # timelines read in batches
    second = await feedread.page(user, 20, first.next_position, None)
    assert [i.post["id"] for i in second.items] == [m.decode() for _, m in everything[20:40]]


async def test_post_projections_expire_with_the_feed_horizon_and_pages_skip_expired_ones(redis):
    store = FeedStore(redis, active_ttl_s=600)
    shop = ids.next_id()
    fresh, ancient = ids.next_id(), ids.next_id()
    await store.apply_post_published(post_event(shop, fresh, now_ms()))
    await store.apply_post_published(
        post_event(shop, ancient, now_ms() - POST_HORIZON_MS - 2 * 86_400_000)
    )
    horizon_s = POST_HORIZON_MS // 1000
    assert horizon_s < await redis.ttl(post_key(fresh)) <= horizon_s + 86_400
    assert await redis.get(post_key(ancient)) is None  # past every feed: never kept

    base = now_ms() - 3_600_000
    posts = [(ids.next_id(), base + n) for n in range(25)]
    too_old = (ids.next_id(), now_ms() - POST_HORIZON_MS - 60_000)
    user = await a_user_following(redis, {shop: [*posts, too_old]})
    await redis.zadd(feed_key(user), {str(p): ms for p, ms in [*posts, too_old]})
    await redis.set(seen_key(user), SEEN_READY, ex=600)
    expired = [posts[24][0], posts[10][0], posts[3][0]]
    await redis.delete(*(post_key(p) for p in expired))

    first = await pages_of(store).page(user, 20, None, None)
    shown = [str(p) for p, _ in reversed(posts) if p not in expired]
    assert [i.post["id"] for i in first.items] == shown[:20]
    second = await pages_of(store).page(user, 20, first.next_position, None)
    assert [i.post["id"] for i in second.items] == shown[20:]
    assert second.next_position is None  # the post beyond the horizon is not read
