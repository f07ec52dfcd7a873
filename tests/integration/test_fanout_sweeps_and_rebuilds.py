"""Suspension sweeps off the main loop, feed keys that expire with their user, and
bounded rebuilds: fanout's real handlers on the real Postgres and Redis."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError

from services.fanout.consumer import FanoutHandlers
from services.fanout.domain import REBUILD_ACCOUNTS_PER_READ
from services.fanout.store import FanoutStore
from shared.events import FeedSweep
from shared.feedstore.keys import (
    FEED_OUTLIVES_SEEN_S,
    SEEN_PENDING,
    all_feed_keys,
    feed_key,
    seen_key,
    timeline_key,
)
from shared.feedstore.packed import read_feed
from tests.integration import fanout_handlers
from tests.integration.fanout_handlers import (
    BASE_MS,
    CAP,
    FlakyRedis,
    SentChunks,
    account_event,
    active_users,
    feed,
    follow,
    ids,
    pulled_shop,
    shop_with_posts,
)

make, pool = fanout_handlers.make, fanout_handlers.pool  # fixtures


async def test_a_pulled_account_is_suspended_without_touching_any_feed(make, redis):
    shop, posts, fans = await pulled_shop(make, redis, 3)
    handlers = make(pull_threshold=2)
    pushed_before = await handlers.store.timeline(shop, CAP)
    await handlers.store.add_entries(fans, pushed_before, only_active=True)
    flaky = FlakyRedis(redis, "pipeline")  # any feed write would fail the handler
    await make(flaky, pull_threshold=2).fanout.accounts_changed(
        [account_event(shop, "suspended", "suspended", 2)]
    )
    assert flaky.calls == 0
    assert await feed(redis, fans[0]) == posts  # feedread hides them at read time


async def test_a_big_accounts_suspension_and_reinstatement_go_in_chunks_to_the_work_topic(
    make, redis
):
    handlers = make(chunk_size=2)
    shop, posts = await shop_with_posts(handlers, 60)
    fans = await active_users(redis, 5)
    await handlers.fanout.follows_changed([follow(f, shop, True, 1) for f in fans])
    await handlers.store.add_entries(fans, await handlers.store.timeline(shop, CAP), True)

    await handlers.fanout.accounts_changed([account_event(shop, "suspended", "suspended", 2)])
    chunks = handlers.producer.sent  # type: ignore[attr-defined]
    assert [type(c) for c in chunks] == [FeedSweep] * 3  # 2 + 2 + the open rest
    assert [await feed(redis, f) for f in fans] == [posts] * len(fans)  # nothing done inline
    flaky = make(FlakyRedis(redis, "pipeline"), chunk_size=2)
    with pytest.raises(RedisConnectionError):
        await flaky.fanout.sweep(chunks[0])
    for chunk in chunks:  # the failed one redelivered, and the others
        await flaky.fanout.sweep(chunk)
    assert [await feed(redis, f) for f in fans] == [[]] * len(fans)

    await handlers.fanout.accounts_changed([account_event(shop, "active", "unsuspended", 3)])
    restore = chunks[3:]
    assert len(restore) == 3 and not any(c.suspended for c in restore)
    for chunk in [*chunks[:3], *restore]:  # the stale removal chunks are skipped
        await handlers.fanout.sweep(chunk)
    assert [await feed(redis, f) for f in fans] == [posts] * len(fans)


async def test_every_feed_key_written_expires_with_its_users_marker(make, redis):
    handlers = make()
    shop, _ = await shop_with_posts(handlers, 3)
    (fan,) = await active_users(redis, 1)
    await handlers.fanout.follows_changed([follow(fan, shop, True, 1)])  # a backfill
    await handlers.store.push(ids.next_id(), "home", BASE_MS + 50, [fan])  # a new category
    marker_ms = await redis.pttl(seen_key(fan))
    for key in (feed_key(fan), feed_key(fan, "beauty"), feed_key(fan, "home")):
        ttl = await redis.pttl(key)
        assert marker_ms < ttl <= marker_ms + FEED_OUTLIVES_SEEN_S * 1000 + 1000, key


async def test_a_rebuilt_feed_expires_with_its_users_marker(make, redis):
    handlers = make()
    shop, posts = await shop_with_posts(handlers, 3)
    fan = ids.next_id()
    await handlers.fanout.follows_changed([follow(fan, shop, True, 1)])
    await redis.set(seen_key(fan), SEEN_PENDING, ex=600)  # came back after a while
    assert await handlers.fanout.rebuild(fan) == 3
    assert await feed(redis, fan) == posts
    for key in all_feed_keys(fan):
        if await redis.exists(key):
            assert await redis.pttl(key) > 600_000, key


async def test_a_rebuild_of_a_user_following_many_accounts_keeps_the_newest_cap(
    pool,
    redis,
):
    """More accounts than one read serves, newest posts scattered among them: the feed
    is exactly the newest `cap` posts, each in its category feed."""
    cap = 40
    handlers = FanoutHandlers(
        FanoutStore(pool, redis, cap), SentChunks(), CollectorRegistry(), 1000, 1000
    )  # type: ignore[arg-type]
    shops = [ids.next_id() for _ in range(REBUILD_ACCOUNTS_PER_READ * 3 + 7)]
    expected: list[tuple[int, bytes, str]] = []
    for n, shop in enumerate(shops):
        for k in range(3):  # later accounts' posts are not always newer
            post, score = ids.next_id(), BASE_MS + (n * 7919 + k * 104729) % 100_000
            category = ("beauty", "home", "food")[(n + k) % 3]
            await handlers.store.add_to_timeline(shop, category, post, score)
            expected.append((score, str(post).encode(), category))
    fan = ids.next_id()
    await handlers.fanout.follows_changed([follow(fan, s, True, 1) for s in shops])
    await redis.set(seen_key(fan), SEEN_PENDING, ex=600)

    assert await handlers.fanout.rebuild(fan) == cap
    newest = sorted(expected, reverse=True)[:cap]
    assert await feed(redis, fan) == [post for _, post, _ in newest]
    assert [m for m, _ in await read_feed(redis, feed_key(fan, "home"))] == [
        post for _, post, category in newest if category == "home"
    ]
    assert await redis.zcard(timeline_key(shops[0])) == 3
