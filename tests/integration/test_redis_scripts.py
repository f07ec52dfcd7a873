"""Scripts called by SHA1 and commands pipelined across callers (shared.redis_cluster.Script,
AutoPipeline), on a single Redis and on a Redis Cluster: every caller gets its own
replies, an error reaches only its own caller, and a server without a script loads it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ResponseError

from shared.redis_cluster import AnyRedis, AutoPipeline, Script

# Increments KEYS[1] by ARGV[1] and returns the new value with the argument it was given:
# a reply that names its call. A missing ARGV[1] is an error of that call alone.
INCREMENT = Script(
    """
local by = tonumber(ARGV[1])
if not by then return redis.error_reply('not a number: ' .. tostring(ARGV[1])) end
return {redis.call('INCRBY', KEYS[1], by), ARGV[1]}
"""
)


class Batched:
    """INCREMENT through an AutoPipeline, one call per caller."""

    def __init__(self, redis: AnyRedis) -> None:
        self.pipeline = AutoPipeline(redis)

    async def __call__(self, keys: list[str], args: list) -> object:
        [reply] = await self.pipeline.run([INCREMENT.command(keys, args)])
        return reply


def a_key(n: int) -> str:
    return f"test-scripts:{{{uuid.uuid4().hex}}}:{n}"


async def forget_scripts(redis: AnyRedis) -> None:
    """What a restarted Redis holds: no scripts (redis-py sends this to every node of a
    cluster)."""
    await redis.script_flush()


async def test_concurrent_calls_go_as_one_pipeline_and_each_gets_its_own_reply(feed_redis):
    batched = Batched(feed_redis)
    keys = [a_key(n) for n in range(50)]
    pipelines = 0
    original = feed_redis.pipeline

    def counting_pipeline(**options):
        nonlocal pipelines
        pipelines += 1
        return original(**options)

    feed_redis.pipeline = counting_pipeline
    try:
        replies = await asyncio.gather(*(batched([key], [n + 1]) for n, key in enumerate(keys)))
    finally:
        del feed_redis.pipeline
    assert replies == [[n + 1, str(n + 1).encode()] for n in range(50)]
    assert pipelines == 1
    assert [int(await feed_redis.get(key)) for key in keys] == list(range(1, 51))
    for key in keys:  # one by one: on a cluster they live in different slots
        await feed_redis.delete(key)


async def test_an_error_reaches_only_its_own_caller(feed_redis):
    batched = Batched(feed_redis)
    good, bad = a_key(1), a_key(2)
    replies = await asyncio.gather(
        batched([good], [2]), batched([bad], ["x"]), batched([good], [3]), return_exceptions=True
    )
    assert replies[0] == [2, b"2"] and replies[2] == [5, b"3"]
    assert isinstance(replies[1], ResponseError) and "not a number: x" in str(replies[1])
    assert await feed_redis.get(bad) is None
    await feed_redis.delete(good)


@pytest.mark.parametrize("callers", [1, 20])
async def test_a_server_that_lost_its_scripts_runs_them_again(feed_redis, callers):
    batched = Batched(feed_redis)
    key = a_key(1)
    await batched([key], [1])  # the server holds the script now
    await forget_scripts(feed_redis)
    replies = await asyncio.gather(*(batched([key], [1]) for _ in range(callers)))
    assert sorted(r[0] for r in replies) == list(range(2, callers + 2))
    assert int(await feed_redis.get(key)) == callers + 1
    await feed_redis.delete(key)


async def test_a_caller_gone_before_the_reply_leaves_the_others_theirs(feed_redis):
    batched = Batched(feed_redis)
    key = a_key(1)
    gone = asyncio.ensure_future(batched([key], [10]))
    staying = asyncio.ensure_future(batched([key], [1]))
    await asyncio.sleep(0)  # both queued
    gone.cancel()
    assert (await staying)[1] == b"1"
    # The cancelled call may or may not have reached Redis: it was sent with the batch.
    assert int(await feed_redis.get(key)) in (1, 11)
    await feed_redis.delete(key)


async def test_a_callers_commands_come_back_in_its_order_beside_other_callers(feed_redis):
    pipeline = AutoPipeline(feed_redis)
    keys = [a_key(n) for n in range(3)]
    for n, key in enumerate(keys):
        await feed_redis.set(key, n)
    first, second = await asyncio.gather(
        pipeline.run([("GET", keys[2]), INCREMENT.command([keys[0]], [5]), ("GET", keys[1])]),
        pipeline.run([("GET", keys[1]), ("GET", keys[2])]),
    )
    assert first == [b"2", [5, b"5"], b"1"]
    assert second == [b"1", b"2"]
    assert await feed_redis.get(keys[0]) == b"5"
    for key in keys:
        await feed_redis.delete(key)
