"""A follow or account event redelivered after its Redis work failed redoes that work.

Fanout records an event in Postgres first and writes feeds after: when the Redis part
fails (or the process dies before the offset commit), the same event comes back and
must find the work still to do from the stored state. These tests call fanout's real
handlers on the real Postgres and Redis, make one Redis step fail with redis-py's own
exception, then deliver the same event again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis import Redis as SyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.fanout.consumer import FanoutHandlers
from services.fanout.store import FanoutStore
from shared import db
from shared.events import AccountChanged, Contract, Envelope, FollowChanged, decode
from shared.feedkeys import PULL_ACCOUNTS, SEEN_READY, feed_key, seen_key, timeline_key
from shared.ids import IdGenerator
from shared.redisx import AnyRedis

ids = IdGenerator(worker=1009)
BASE_MS = 1_800_000_000_000
CAP = 800


class FlakyRedis:
    """The real client, except that the `nth` call of `method` raises redis-py's
    ConnectionError (after running `before`, if given): a Redis outage mid-handler."""

    def __init__(self, real: AnyRedis, method: str, nth: int = 1, before=None) -> None:
        self.real, self.method, self.nth, self.before = real, method, nth, before
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name != self.method:
            return attr

        def flaky(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.nth:
                if self.before is not None:
                    self.before()
                raise RedisConnectionError("Redis went away (test)")
            return attr(*args, **kwargs)

        return flaky


class SentChunks:
    """A producer that keeps what it is sent, for the test to deliver to the work group."""

    def __init__(self) -> None:
        self.sent: list[Contract] = []

    async def send(self, topic: str, value: bytes, key: bytes) -> Awaitable[None]:
        self.sent.append(decode(Envelope.decode(value)))  # type: ignore[arg-type]
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
async def pool(stack) -> AsyncIterator[Any]:
    pool = await db.create_pool(stack.str("WEITAO_POSTGRES_DSN"), "fanout", max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def make(pool, redis) -> Callable[..., FanoutHandlers]:
    def build(
        client: Any = None, pull_threshold: int = 1000, chunk_size: int = 1000
    ) -> FanoutHandlers:
        return FanoutHandlers(
            FanoutStore(pool, client or redis, CAP),
            SentChunks(),  # type: ignore[arg-type]
            CollectorRegistry(),
            pull_threshold=pull_threshold,
            chunk_size=chunk_size,
        )

    return build


def follow(user: int, account: int, following: bool, version: int) -> FollowChanged:
    return FollowChanged(
        user_id=str(user),
        account_id=str(account),
        following=following,
        source="api",
        version=version,
        at="2026-11-25T00:00:00.000Z",
    )


def account_event(account: int, status: str, change: str, version: int) -> AccountChanged:
    return AccountChanged(
        account_id=str(account),
        handle=f"h{account}",
        kind="seller",
        display_name="店",
        category="beauty",
        status=status,
        created_at="2026-11-25T00:00:00.000Z",
        change=change,
        version=version,
    )


async def shop_with_posts(handlers: FanoutHandlers, count: int) -> tuple[int, list[bytes]]:
    """An account whose timeline holds `count` posts (written directly: no daily quota);
    returns it and its post ids, newest first."""
    account = ids.next_id()
    posts = [ids.next_id() for _ in range(count)]
    for n, post in enumerate(posts):
        await handlers.store.add_to_timeline(account, "beauty", post, BASE_MS + n)
    return account, [str(p).encode() for p in reversed(posts)]


async def active_users(redis: AnyRedis, count: int) -> list[int]:
    users = [ids.next_id() for _ in range(count)]
    for user in users:
        await redis.set(seen_key(user), SEEN_READY, ex=600)
    return users


async def feed(redis: AnyRedis, user: int) -> list[bytes]:
    return await redis.zrange(feed_key(user), 0, -1, desc=True)


async def delivered_after_a_failure(make, client: FlakyRedis, handle: str, events: list) -> None:
    """Delivers `events` to a handler whose Redis fails once, then again (a redelivery)."""
    flaky = make(client)
    with pytest.raises(RedisConnectionError):
        await getattr(flaky, handle)(events)
    assert client.calls >= client.nth, "the Redis step never ran"
    await getattr(flaky, handle)(events)


async def test_a_redelivered_follow_backfills_the_feed(make, redis):
    shop, posts = await shop_with_posts(make(), 3)
    (fan,) = await active_users(redis, 1)
    flaky = FlakyRedis(redis, "pipeline")
    await delivered_after_a_failure(make, flaky, "on_follows_changed", [follow(fan, shop, True, 1)])
    assert await feed(redis, fan) == posts


async def test_a_redelivered_unfollow_takes_the_posts_out(make, redis):
    handlers = make()
    shop, posts = await shop_with_posts(handlers, 3)
    (fan,) = await active_users(redis, 1)
    await handlers.on_follows_changed([follow(fan, shop, True, 1)])
    assert await feed(redis, fan) == posts
    flaky = FlakyRedis(redis, "pipeline")
    await delivered_after_a_failure(
        make, flaky, "on_follows_changed", [follow(fan, shop, False, 2)]
    )
    assert await feed(redis, fan) == []


async def test_a_redelivered_unsuspension_puts_every_post_back(make, redis):
    handlers = make()
    shop, posts = await shop_with_posts(handlers, 60)  # more than a follow's backfill
    (fan,) = await active_users(redis, 1)
    await handlers.on_accounts_changed([account_event(shop, "active", "created", 1)])
    await handlers.on_follows_changed([follow(fan, shop, True, 1)])
    await handlers.on_accounts_changed([account_event(shop, "suspended", "suspended", 2)])
    assert await feed(redis, fan) == []
    flaky = FlakyRedis(redis, "pipeline")
    unsuspended = [account_event(shop, "active", "unsuspended", 3)]
    await delivered_after_a_failure(make, flaky, "on_accounts_changed", unsuspended)
    assert await feed(redis, fan) == posts


async def test_a_redelivered_suspension_takes_the_posts_out(make, redis):
    handlers = make()
    shop, _ = await shop_with_posts(handlers, 3)
    (fan,) = await active_users(redis, 1)
    await handlers.on_follows_changed([follow(fan, shop, True, 1)])
    flaky = FlakyRedis(redis, "pipeline")
    suspended = [account_event(shop, "suspended", "suspended", 2)]
    await delivered_after_a_failure(make, flaky, "on_accounts_changed", suspended)
    assert await feed(redis, fan) == []


async def test_a_redelivered_follow_that_crosses_the_threshold_switches_to_pull(make, redis, pool):
    handlers = make(pull_threshold=2)
    shop, _ = await shop_with_posts(handlers, 3)
    first, second = await active_users(redis, 2)
    await handlers.on_follows_changed([follow(first, shop, True, 1)])
    flaky = FlakyRedis(redis, "sadd")  # the pull set's write fails
    await delivered_after_a_failure(
        lambda client: make(client, pull_threshold=2),
        flaky,
        "on_follows_changed",
        [follow(second, shop, True, 1)],
    )
    assert await pool.fetchval("SELECT pull FROM account_modes WHERE account_id = $1", shop)
    assert await redis.sismember(PULL_ACCOUNTS, str(shop))


async def pulled_shop(make, redis, posts: int) -> tuple[int, list[bytes], list[int]]:
    """An account with two followers under a pull threshold of 2: in pull mode."""
    handlers = make(pull_threshold=2)
    shop, post_ids = await shop_with_posts(handlers, posts)
    fans = await active_users(redis, 2)
    await handlers.on_follows_changed([follow(f, shop, True, 1) for f in fans])
    assert await redis.sismember(PULL_ACCOUNTS, str(shop))
    return shop, post_ids, fans


async def test_a_redelivered_unfollow_that_drops_below_the_threshold_switches_to_push(
    make, redis, pool
):
    shop, posts, (stays, leaves) = await pulled_shop(make, redis, 60)
    flaky = FlakyRedis(redis, "srem")  # the pull set's removal fails
    await delivered_after_a_failure(
        lambda client: make(client, pull_threshold=2),
        flaky,
        "on_follows_changed",
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
        "on_follows_changed",
        [follow(leaves, shop, False, 2)],
    )
    assert await feed(redis, stays) == [str(late).encode(), *posts]
