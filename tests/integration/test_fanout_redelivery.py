"""A follow or account event redelivered after its Redis work failed redoes that work.

Fanout records an event in Postgres first and writes feeds after: when the Redis part
fails (or the process dies before the offset commit), the same event comes back and
must find the work still to do from the stored state. These tests call fanout's real
handlers on the real Postgres and Redis, make one Redis step fail with redis-py's own
exception, then deliver the same event again.
"""

from __future__ import annotations

from redis import Redis as SyncRedis

from shared.feedstore.keys import PULL_ACCOUNTS, timeline_key
from tests.integration import fanout_handlers
from tests.integration.fanout_handlers import (
    BASE_MS,
    FlakyRedis,
    account_event,
    active_users,
    delivered_after_a_failure,
    feed,
    follow,
    ids,
    pulled_shop,
    shop_with_posts,
)

make, pool = fanout_handlers.make, fanout_handlers.pool  # fixtures


async def test_a_redelivered_follow_backfills_the_feed(make, redis):
    shop, posts = await shop_with_posts(make(), 3)
    (fan,) = await active_users(redis, 1)
    flaky = FlakyRedis(redis, "pipeline")
    await delivered_after_a_failure(make, flaky, "follows_changed", [follow(fan, shop, True, 1)])
    assert await feed(redis, fan) == posts


async def test_a_redelivered_unfollow_takes_the_posts_out(make, redis):
    handlers = make()
    shop, posts = await shop_with_posts(handlers, 3)
    (fan,) = await active_users(redis, 1)
    await handlers.fanout.follows_changed([follow(fan, shop, True, 1)])
    assert await feed(redis, fan) == posts
    flaky = FlakyRedis(redis, "pipeline")
    await delivered_after_a_failure(make, flaky, "follows_changed", [follow(fan, shop, False, 2)])
    assert await feed(redis, fan) == []


async def test_a_redelivered_unsuspension_puts_every_post_back(make, redis):
    handlers = make()
    shop, posts = await shop_with_posts(handlers, 60)  # more than a follow's backfill
    (fan,) = await active_users(redis, 1)
    await handlers.fanout.accounts_changed([account_event(shop, "active", "created", 1)])
    await handlers.fanout.follows_changed([follow(fan, shop, True, 1)])
    await handlers.fanout.accounts_changed([account_event(shop, "suspended", "suspended", 2)])
    assert await feed(redis, fan) == []
    flaky = FlakyRedis(redis, "pipeline")
    unsuspended = [account_event(shop, "active", "unsuspended", 3)]
    await delivered_after_a_failure(make, flaky, "accounts_changed", unsuspended)
    assert await feed(redis, fan) == posts


async def test_a_redelivered_suspension_takes_the_posts_out(make, redis):
    handlers = make()
    shop, _ = await shop_with_posts(handlers, 3)
    (fan,) = await active_users(redis, 1)
    await handlers.fanout.follows_changed([follow(fan, shop, True, 1)])
    flaky = FlakyRedis(redis, "pipeline")
    suspended = [account_event(shop, "suspended", "suspended", 2)]
    await delivered_after_a_failure(make, flaky, "accounts_changed", suspended)
    assert await feed(redis, fan) == []


async def test_a_redelivered_follow_that_crosses_the_threshold_switches_to_pull(make, redis, pool):
    handlers = make(pull_threshold=2)
    shop, _ = await shop_with_posts(handlers, 3)
    first, second = await active_users(redis, 2)
    await handlers.fanout.follows_changed([follow(first, shop, True, 1)])
    flaky = FlakyRedis(redis, "sadd")  # the pull set's write fails
    await delivered_after_a_failure(
        lambda client: make(client, pull_threshold=2),
        flaky,
        "follows_changed",
        [follow(second, shop, True, 1)],
    )
    assert await pool.fetchval("SELECT pull FROM account_modes WHERE account_id = $1", shop)
    assert await redis.sismember(PULL_ACCOUNTS, str(shop))


async def test_a_redelivered_unfollow_that_drops_below_the_threshold_switches_to_push(
    make, redis, pool
):
    shop, posts, (stays, leaves) = await pulled_shop(make, redis, 60)
    flaky = FlakyRedis(redis, "srem")  # the pull set's removal fails
    await delivered_after_a_failure(
        lambda client: make(client, pull_threshold=2),
        flaky,
        "follows_changed",
        [follow(leaves, shop, False, 2)],
    )
    assert not await redis.sismember(PULL_ACCOUNTS, str(shop))
    assert not await pool.fetchval("SELECT pull FROM account_modes WHERE account_id = $1", shop)
    assert await feed(redis, stays) == posts  # all 60: a switch loses no post


async def test_a_switch_to_push_interrupted_after_postgres_still_copies_late_posts(
    make, redis, stack
):
    """A post that reached the timeline while the first copy ran (seeing pull mode) is
    copied by the second: a crash before that copy must not lose it."""
    shop, posts, (stays, leaves) = await pulled_shop(make, redis, 3)
    late = ids.next_id()

    def publish_meanwhile() -> None:  # a plain client: the hook runs inside a sync call
        with SyncRedis.from_url(stack.str("WEITAO_REDIS_URL")) as client:
            client.zadd(timeline_key(shop), {str(late): BASE_MS + 100})

    # Pipelines: the leaver's removal (2), the first copy (2), then the second copy's read.
    flaky = FlakyRedis(redis, "pipeline", nth=5, before=publish_meanwhile)
    await delivered_after_a_failure(
        lambda client: make(client, pull_threshold=2),
        flaky,
        "follows_changed",
        [follow(leaves, shop, False, 2)],
    )
    assert await feed(redis, stays) == [str(late).encode(), *posts]
