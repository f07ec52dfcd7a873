"""shared.feedstore on the real Redis (no Kafka, no Postgres): every method of the writer
and reader APIs is run against keys of its own ids, and what it changed is checked against
keys.WRITERS and keys.GRANTS: each key family is written by its one owner only."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shared.feedstore.keys import (
    FANOUT,
    FEEDREAD,
    GRANTS,
    PULL_ACCOUNTS,
    SEEN_PENDING,
    SEEN_READY,
    WRITERS,
    account_key,
    family_of,
    feed_key,
    following_key,
    post_key,
    post_tally_key,
    seen_key,
    timeline_key,
)
from shared.feedstore.reader import FeedReader
from shared.feedstore.writer import FeedWriter
from shared.ids import IdGenerator
from shared.redis_cluster import AnyRedis

ids = IdGenerator(worker=1011)
SEEDED_TTL_MS = 100_000  # every seeded key's expiry; an API that sets one moves it far off
CATEGORY = "tea_drinks"


@dataclass(frozen=True)
class World:
    """Ids of one run: a user, an account (pulled) and another (not), a post and a post
    not yet kept."""

    user: int
    account: int
    other_account: int
    post: int
    new_post: int

    def keys(self) -> list[str]:
        return [
            feed_key(self.user),
            feed_key(self.user, CATEGORY),
            seen_key(self.user),
            following_key(self.user),
            timeline_key(self.account),
            timeline_key(self.account, CATEGORY),
            account_key(self.account),
            post_key(self.post),
            post_tally_key(self.post),
            post_key(self.new_post),
        ]


async def seed(redis: AnyRedis, world: World) -> None:
    """One value in every key family, each expiring in SEEDED_TTL_MS."""
    old = str(ids.next_id())
    async with redis.pipeline(transaction=False) as pipe:
        for key in world.keys():
            pipe.delete(key)
        pipe.zadd(feed_key(world.user), {old: 1})
        pipe.zadd(feed_key(world.user, CATEGORY), {old: 1})
        pipe.set(seen_key(world.user), SEEN_PENDING)
        pipe.hset(following_key(world.user), str(world.account), 1)
        pipe.zadd(timeline_key(world.account), {str(world.post): 2})
        pipe.zadd(timeline_key(world.account, CATEGORY), {str(world.post): 2})
        pipe.hset(account_key(world.account), mapping={"v": 1, "j": b"{}"})
        pipe.set(post_key(world.post), b"{}")
        for key in world.keys()[:-1]:
            pipe.pexpire(key, SEEDED_TTL_MS)
        pipe.sadd(PULL_ACCOUNTS, str(world.account))
        pipe.srem(PULL_ACCOUNTS, str(world.other_account))
        await pipe.execute()


async def snapshot(redis: AnyRedis, world: World) -> dict[str, tuple[Any, int]]:
    """Each key's (serialized value, PTTL); the pull set by the world's two accounts."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in world.keys():
            pipe.dump(key)
            pipe.pttl(key)
        pipe.smismember(PULL_ACCOUNTS, [str(world.account), str(world.other_account)])
        raw = await pipe.execute()
    found = {key: (raw[2 * i], raw[2 * i + 1]) for i, key in enumerate(world.keys())}
    found[PULL_ACCOUNTS] = (tuple(raw[-1]), -1)
    return found


async def changes(redis: AnyRedis, world: World, before: dict) -> set[tuple[str, str]]:
    """(family, what changed) since `before`: `ready` (the marker flipped to SEEN_READY,
    expiry kept), `expiry` (only the expiry moved), or `content`."""
    after = await snapshot(redis, world)
    changed = set()
    for key, (value, ttl) in after.items():
        old_value, old_ttl = before[key]
        family = family_of(key)
        if value != old_value:
            kept_expiry = abs(ttl - old_ttl) < SEEDED_TTL_MS // 2
            ready = family == "seen" and kept_expiry and await redis.get(key) == SEEN_READY
            changed.add((family, "ready" if ready else "content"))
        elif abs(ttl - old_ttl) > SEEDED_TTL_MS // 2:
            changed.add((family, "expiry"))
    return changed


Call = Callable[[Any, World], Awaitable[object]]

# One call of every public method of each API, on the world's keys.
WRITER_CALLS: dict[str, Call] = {
    "add_to_timeline": lambda w, x: w.add_to_timeline(x.account, CATEGORY, ids.next_id(), 5),
    "remove_from_timeline": lambda w, x: w.remove_from_timeline(x.account, CATEGORY, x.post),
    "push": lambda w, x: w.push(ids.next_id(), CATEGORY, 5, [x.user]),
    "add_entries": lambda w, x: w.add_entries([x.user], [(b"7", 7, CATEGORY)], False),
    "remove": lambda w, x: w.remove([x.user], [CATEGORY], [(b"1", 1)]),
    "mark_feed_ready": lambda w, x: w.mark_feed_ready(x.user),
    "mark_pulled": lambda w, x: w.mark_pulled(x.other_account, True),
    "add_pulled": lambda w, x: w.add_pulled([str(x.other_account).encode()]),
    "remove_pulled": lambda w, x: w.remove_pulled([str(x.account).encode()]),
    "pulled": lambda w, x: w.pulled(),
}
READER_CALLS: dict[str, Call] = {
    "apply_accounts": lambda r, x: r.apply_accounts([(str(x.account), 2, b'{"a":1}')]),
    "apply_follows": lambda r, x: r.apply_follows([(str(x.user), str(x.other_account), 1, True)]),
    "keep_post": lambda r, x: r.keep_post(str(x.new_post), b"{}", 60),
    "apply_tallies": lambda r, x: r.apply_tallies([(str(x.post), 1, b'{"vote_total":1}', 60)]),
    "tombstone_post": lambda r, x: r.tombstone_post(str(x.post), 60),
    "touch": lambda r, x: r.touch(x.user, 600),
    "ranges": lambda r, x: r.ranges([feed_key(x.user), timeline_key(x.account)], "+inf", 0, 5),
    "pull_accounts": lambda r, x: r.pull_accounts(),
    "post_bodies": lambda r, x: r.post_bodies([str(x.post)]),
    "account_bodies": lambda r, x: r.account_bodies([str(x.account)]),
}

# What some calls are known to change: proof the snapshots see writes.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "push": {("feed", "content")},
    "mark_feed_ready": {("seen", "ready")},
    "mark_pulled": {("pull_accounts", "content")},
    "touch": {("seen", "expiry"), ("feed", "expiry")},
    "keep_post": {("post", "content")},
    "apply_tallies": {("post", "content")},
    "pull_accounts": set(),
}


def public_methods(api: type) -> set[str]:
    return {n for n, f in inspect.getmembers(api, inspect.iscoroutinefunction) if n[0] != "_"}


def test_every_method_of_both_apis_is_checked() -> None:
    assert public_methods(FeedWriter) == set(WRITER_CALLS)
    assert public_methods(FeedReader) == set(READER_CALLS)


def test_every_family_has_one_writer_and_grants_go_to_others() -> None:
    assert set(WRITERS.values()) == {FANOUT, FEEDREAD}
    for family, service in GRANTS:
        assert WRITERS[family] != service, f"{service} owns {family}: no grant needed"


@pytest.mark.parametrize(("service", "calls"), [(FANOUT, WRITER_CALLS), (FEEDREAD, READER_CALLS)])
async def test_each_api_changes_only_what_its_service_owns_or_is_granted(
    redis: AnyRedis, service: str, calls: dict[str, Call]
) -> None:
    api = FeedWriter(redis, 800, 1000) if service == FANOUT else FeedReader(redis)
    world = World(*(ids.next_id() for _ in range(5)))
    seen_changes: dict[str, set[tuple[str, str]]] = {}
    try:
        for name, call in calls.items():
            await seed(redis, world)
            before = await snapshot(redis, world)
            await call(api, world)
            seen_changes[name] = await changes(redis, world, before)
    finally:
        await redis.delete(*world.keys())
        await redis.srem(PULL_ACCOUNTS, str(world.account), str(world.other_account))
    trespasses = {
        name: (family, change)
        for name, found in seen_changes.items()
        for family, change in found
        if WRITERS[family] != service and GRANTS.get((family, service)) != change
    }
    assert trespasses == {}
    # The snapshots see real writes, the granted ones included.
    for name, expected in EXPECTED.items():
        if name in seen_changes:
            assert seen_changes[name] == expected, name
