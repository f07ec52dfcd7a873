"""The world of `make bench-read-pull`, built through the API: 500 pulled accounts with
~40 posts each (made as bench/read_world.py makes them) and readers in three groups,
following 5, 50 or 500 of them, marked active.

An account is pulled once its follower count reaches fanout's WEITAO_PULL_THRESHOLD (and
pushed again only below 0.9 of it, when a follow changes). 500 accounts above the running
stack's 2,000 would take a million follows, so the build restarts fanout with a threshold
of 20 (each account has at least the 30 followers of the 500 group) and restores the
environment's afterwards: the accounts stay pulled, as no follow of theirs changes again.
Kept in bench-out/read-pull-world.json and reused while it is whole."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from bench.read import OUT
from bench.read_world import (
    CATEGORY,
    POSTS_PER_ACCOUNT,
    Builder,
    bodies_kept,
    publish_days,
    until,
)
from bench.stack import restart
from bench.world import BULK
from shared.feedstore.keys import PULL_ACCOUNTS, following_key, timeline_key

GROUPS = (5, 50, 500)  # pulled accounts each reader of a group follows
READERS_PER_GROUP = 30  # enough for wrk to rotate; the 500 group alone passes the threshold
BUILD_THRESHOLD = 20
WORLD_FILE = OUT / "read-pull-world.json"


@dataclass(frozen=True)
class PullWorld:
    accounts: list[str]
    groups: dict[str, list[str]]  # str(pulled sources) -> its readers
    follows: dict[str, list[str]]  # reader -> the accounts it follows


async def all_pulled(redis, accounts: list[str]) -> bool:
    """Whether every account is in fanout's pull set."""
    return all(await redis.smismember(PULL_ACCOUNTS, accounts))


async def pull_world(builder: Builder, rebuild: bool, say: Callable[[str], None]) -> PullWorld:
    """The kept world while it is whole (its readers marked active again); else a new one,
    built with fanout restarted on BUILD_THRESHOLD and restored after."""
    if WORLD_FILE.exists() and not rebuild:
        world = PullWorld(**orjson.loads(WORLD_FILE.read_bytes()))
        if await _whole(builder, world):
            await builder.mark_active(list(world.follows))
            say(f"reusing the world of {WORLD_FILE.name} (--rebuild for a new one)")
            return world
    say(f"building the world: fanout restarted with WEITAO_PULL_THRESHOLD={BUILD_THRESHOLD}")
    restart("fanout", WEITAO_PULL_THRESHOLD=str(BUILD_THRESHOLD))
    try:
        world = await _build(builder, say)
    finally:
        say("restoring fanout with the environment's settings")
        restart("fanout")
    WORLD_FILE.write_bytes(orjson.dumps(world.__dict__))
    return world


async def _build(builder: Builder, say: Callable[[str], None]) -> PullWorld:
    started = time.perf_counter()
    users = await builder.consumers(len(GROUPS) * READERS_PER_GROUP)
    groups = {
        str(n): users[i * READERS_PER_GROUP : (i + 1) * READERS_PER_GROUP]
        for i, n in enumerate(GROUPS)
    }
    accounts = await _sellers(builder, max(GROUPS))
    chooser = random.Random(10)  # each reader its own accounts, the same ones every build
    follows = {r: chooser.sample(accounts, int(n)) for n, rs in groups.items() for r in rs}
    await builder.mark_active(users)
    pairs = [{"user_id": r, "account_id": a} for r, followed in follows.items() for a in followed]
    for start in range(0, len(pairs), BULK):
        batch = {"action": "follow", "pairs": pairs[start : start + BULK]}
        await builder.bulk("/v1/admin/bulk/follows", batch, 200)
    await until(lambda: all_pulled(builder.redis, accounts))
    say(f"  {len(accounts)} accounts pulled; {len(pairs):,} follows")
    posts = await publish_days(builder, accounts, say)
    world = PullWorld(accounts, groups, follows)
    await until(lambda: _whole(builder, world))
    await until(lambda: bodies_kept(builder, posts))
    say(f"  timelines full ({POSTS_PER_ACCOUNT} posts) in {time.perf_counter() - started:.0f} s")
    return world


async def _sellers(builder: Builder, count: int) -> list[str]:
    """`count` sellers in one bulk call, on one invitation."""
    code = await builder.api.create_invitation(max_uses=count)
    batch = [
        {
            "handle": f"brp{secrets.token_hex(7)}",
            "kind": "seller",
            "display_name": "店铺",
            "category": CATEGORY,
            "invitation_code": code,
        }
        for _ in range(count)
    ]
    made = await builder.bulk("/v1/admin/bulk/accounts", {"accounts": batch}, 201)
    return [a["id"] for a in made["created"]]


async def _whole(builder: Builder, world: PullWorld) -> bool:
    """Every account pulled with a full timeline, and feedread knows every follow."""
    if not await all_pulled(builder.redis, world.accounts):
        return False
    async with builder.redis.pipeline(transaction=False) as pipe:
        for account in world.accounts:
            pipe.zcard(timeline_key(account))
        for reader in world.follows:
            pipe.hlen(following_key(reader))
        sizes = await pipe.execute()
    timelines, following = sizes[: len(world.accounts)], sizes[len(world.accounts) :]
    return min(timelines) >= POSTS_PER_ACCOUNT and following == [
        len(f) for f in world.follows.values()
    ]
