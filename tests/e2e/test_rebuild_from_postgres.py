"""`make rebuild-feeds`: after a Redis wipe, accounts and publishing re-emit their truth
as events and the feeds come back (merged from timelines, then materialized)."""

from __future__ import annotations

import asyncio
import sys

from shared.feedstore.keys import account_key, following_key, post_key, seen_key, timeline_key
from tests.conftest import ROOT
from tests.support import consumers, eventually, feed_ids, publish, seller


async def reemit(module: str) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", module, cwd=ROOT)
    assert await process.wait() == 0


async def test_feeds_come_back_from_postgres_truth_after_their_redis_keys_are_wiped(api, redis):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    post = await publish(api, shop, "survives a Redis wipe")
    await eventually(
        lambda: feed_ids(api, fan["id"]), lambda ids: ids == [post["id"]], what="post served"
    )
    await redis.delete(
        timeline_key(shop["id"]),
        timeline_key(shop["id"], "women_fashion"),
        account_key(shop["id"]),
        post_key(post["id"]),
        seen_key(fan["id"]),
        following_key(fan["id"]),
    )
    assert await feed_ids(api, fan["id"]) == []

    await reemit("services.accounts.reemit")
    await reemit("services.publishing.reemit")

    await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: ids == [post["id"]],
        timeout_s=240,
        what="feed rebuilt from re-emitted events",
    )
