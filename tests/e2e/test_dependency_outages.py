"""A dependency that vanishes for longer than a handler's retry budget: the events handled
meanwhile wait for it and are then handled in full, none skipped or dead-lettered.

Redis runs with an append-only file (as in production), so a kill -9 keeps its data.
"""

from __future__ import annotations

import asyncio

from tests.faults import (
    all_feed_ids,
    all_ready,
    dead_letters_written,
    stack_async,
    watching_readiness,
)
from tests.support import consumers, eventually, feed_ids, publish, seller

# Longer than the old retry budget (8 attempts, about 11 s) that dead-lettered events.
OUTAGE_S = 25


async def _shop_with_active_fans(api, fans: int):
    shop = await seller(api)
    readers = await consumers(api, fans)
    for fan in readers:
        await api.follow(fan["id"], shop["id"])
        await api.feed(fan["id"])  # a read makes the follower active: pushes reach it
    warmup = await publish(api, shop, "before the outage")
    for fan in readers:
        await eventually(
            lambda fan=fan: feed_ids(api, fan["id"]),
            lambda ids: warmup["id"] in ids,
            timeout_s=30,
            what="warm-up post",
        )
    return shop, readers


async def test_redis_down_for_25s_delays_a_post_but_every_follower_gets_it(api, stack):
    shop, fans = await _shop_with_active_fans(api, 3)
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    letters_before = await dead_letters_written(bootstrap)

    async with watching_readiness(api.urls) as readiness:
        await asyncio.sleep(1.5)  # the append-only file is synced every second
        await stack_async("kill", "redis")
        down_at = readiness.now()
        try:
            post = await publish(api, shop, "published while Redis is down")
            await asyncio.sleep(OUTAGE_S)
        finally:
            await stack_async("start", "redis")
        up_at = readiness.now()
        for fan in fans:
            await eventually(
                lambda fan=fan: all_feed_ids(api, fan["id"]),
                lambda ids: post["id"] in ids,
                timeout_s=60,
                what="post published during the Redis outage",
            )
        await asyncio.sleep(1)

    assert await dead_letters_written(bootstrap) == letters_before
    for service in ("fanout", "feedread"):
        assert 503 in readiness.statuses(service, down_at + 2, up_at - 1), service
        assert readiness.statuses(service, readiness.now() - 1) == {200}, service


async def test_postgres_restart_delays_fanout_but_loses_no_delivery_or_removal(api, stack):
    shop, (stays, leaves) = await _shop_with_active_fans(api, 2)
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    letters_before = await dead_letters_written(bootstrap)

    post = await publish(api, shop, "published just before Postgres stops")
    await api.unfollow(leaves["id"], shop["id"])
    await stack_async("stop", "postgres")  # fanout reads followers from Postgres
    try:
        await asyncio.sleep(OUTAGE_S)
    finally:
        await stack_async("start", "postgres")

    await eventually(
        lambda: all_feed_ids(api, stays["id"]),
        lambda ids: post["id"] in ids,
        timeout_s=60,
        what="post published as Postgres stopped",
    )
    await eventually(
        lambda: all_feed_ids(api, leaves["id"]),
        lambda ids: not ids,
        timeout_s=60,
        what="the unfollowed account's posts gone",
    )
    assert await dead_letters_written(bootstrap) == letters_before
    # Every service is ready again: pools, outbox relays and id worker numbers recovered.
    await eventually(
        lambda: all_ready(api.urls), lambda ready: ready, timeout_s=60, what="all services ready"
    )
    post_after = await publish(api, shop, "published once Postgres is back")
    await eventually(
        lambda: all_feed_ids(api, stays["id"]),
        lambda ids: post_after["id"] in ids,
        timeout_s=30,
        what="a post published after the restart",
    )
