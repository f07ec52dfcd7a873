"""Fanout's real handlers on the real Postgres and Redis, for the tests of its
redelivery, sweep and rebuild rules: fixtures, fakes and event builders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError

from services.fanout.consumer import FanoutHandlers
from services.fanout.store import FanoutStore
from shared import db
from shared.events import AccountChanged, Contract, FollowChanged
from shared.feedstore.keys import PULL_ACCOUNTS, SEEN_READY, feed_key, seen_key
from shared.feedstore.packed import read_feed
from shared.ids import IdGenerator
from shared.redis_cluster import AnyRedis
from tests.events import seller_changed

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

    async def send(self, topic: str, value: Contract, key: str) -> Awaitable[None]:
        assert (topic, key) == (value.TOPIC.name, value.key())
        self.sent.append(value)
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
    return seller_changed(account, status, version, change=change)


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
    return [member for member, _ in await read_feed(redis, feed_key(user))]


async def delivered_after_a_failure(make, client: FlakyRedis, handle: str, events: list) -> None:
    """Delivers `events` to a handler whose Redis fails once, then again (a redelivery)."""
    flaky = make(client)
    with pytest.raises(RedisConnectionError):
        await getattr(flaky.fanout, handle)(events)
    assert client.calls >= client.nth, "the Redis step never ran"
    await getattr(flaky.fanout, handle)(events)


async def pulled_shop(make, redis, posts: int) -> tuple[int, list[bytes], list[int]]:
    """An account with two followers under a pull threshold of 2: in pull mode."""
    handlers = make(pull_threshold=2)
    shop, post_ids = await shop_with_posts(handlers, posts)
    fans = await active_users(redis, 2)
    await handlers.fanout.follows_changed([follow(f, shop, True, 1) for f in fans])
    assert await redis.sismember(PULL_ACCOUNTS, str(shop))
    return shop, post_ids, fans
