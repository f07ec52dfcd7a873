"""Consuming the same events again changes nothing: replaying every event about an account
through fanout's and feedread's real handlers, twice, leaves feeds and projections as
they were."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from services.fanout.consumer import FanoutHandlers
from services.fanout.store import FanoutStore
from services.feedread import consumer as feedread_consumer
from services.feedread.store import FeedStore
from shared import db
from shared.feedstore.keys import account_key, feed_key, following_key, post_key, timeline_key
from shared.feedstore.packed import read_feed
from shared.kafka import ConsumerLoop
from tests.support import consumers, events_with_keys, eventually, feed_ids, publish, seller


async def snapshot(redis: aioredis.Redis, keys: list[str]) -> dict[str, object]:
    state: dict[str, object] = {}
    for key in keys:
        kind = (await redis.type(key)).decode()
        if kind == "zset":
            state[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":  # a packed feed, oldest first like the zrange above
            state[key] = (await read_feed(redis, key))[::-1]
        elif kind == "hash":
            state[key] = await redis.hgetall(key)
        elif kind == "string":
            state[key] = await redis.get(key)
        else:
            state[key] = kind
    return state


async def test_replaying_an_accounts_events_twice_leaves_every_feed_and_projection_as_it_was(
    api, stack
):
    shop = await seller(api)
    stays, leaves, late = await consumers(api, 3)
    for fan in (stays, leaves):
        await api.follow(fan["id"], shop["id"])
    posts = [await publish(api, shop, f"post {i}") for i in range(3)]
    await api.call("publishing", "DELETE", f"/v1/posts/{posts[1]['id']}", as_=(shop["id"], "user"))
    await api.unfollow(leaves["id"], shop["id"])
    await api.follow(late["id"], shop["id"])
    expected = [posts[2]["id"], posts[0]["id"]]
    for fan in (stays, late):
        await eventually(
            lambda fan=fan: feed_ids(api, fan["id"]),
            lambda ids: ids == expected,
            what="settled feed",
        )
    await eventually(
        lambda: feed_ids(api, leaves["id"]), lambda ids: ids == [], what="unfollower's feed emptied"
    )
    await asyncio.sleep(0.5)  # let both consumer groups finish the same events

    fans = [stays["id"], leaves["id"], late["id"]]
    keys = (
        [feed_key(f) for f in fans]
        + [following_key(f) for f in fans]
        + [timeline_key(shop["id"]), account_key(shop["id"])]
        + [post_key(p["id"]) for p in posts]
    )
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    events = await events_with_keys(bootstrap, {shop["id"]})
    # The account, 3 follows, 1 unfollow, 3 posts, 1 delete (more if a relay re-sent one).
    assert len(events) >= 9

    redis = aioredis.Redis.from_url(stack.str("WEITAO_REDIS_URL"))
    pool = await db.create_pool(stack.str("WEITAO_POSTGRES_DSN"), "fanout", max_size=2)
    try:
        projection_sql = (
            "SELECT user_id, active, version FROM follows WHERE account_id = $1 ORDER BY user_id"
        )
        before = await snapshot(redis, keys)
        rows_before = await pool.fetch(projection_sql, int(shop["id"]))
        fanout = FanoutHandlers(
            FanoutStore(pool, redis, stack.int("WEITAO_FEED_CAP")),
            producer=None,  # type: ignore[arg-type]  # replayed posts are small: no chunks
            registry=CollectorRegistry(),
            pull_threshold=stack.int("WEITAO_PULL_THRESHOLD"),
            chunk_size=stack.int("WEITAO_FANOUT_CHUNK"),
        )
        loops = [
            ConsumerLoop(bootstrap, "replay-test", fanout.table(), CollectorRegistry()),
            ConsumerLoop(
                bootstrap,
                "replay-test",
                feedread_consumer.handlers(FeedStore(redis, 3600)),
                CollectorRegistry(),
            ),
        ]
        for _ in range(2):
            for loop in loops:
                await loop.handle_all(events)

        assert await snapshot(redis, keys) == before
        assert await pool.fetch(projection_sql, int(shop["id"])) == rows_before
        assert [m.decode() for m, _ in before[feed_key(stays["id"])]][::-1] == expected
    finally:
        await pool.close()
        await redis.aclose()
