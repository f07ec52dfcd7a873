"""Fan-out's use cases (services.fanout.service) on in-memory fakes: no servers."""

from __future__ import annotations

import pytest

from services.fanout.service import Fanout
from shared.events import (
    AccountChanged,
    FanoutChunk,
    FeedSweep,
    FollowChanged,
    PostDeleted,
    PostPublished,
)
from tests.events import seller_changed
from tests.fakes.fanout import FakeFeedWrites, FakeFollowProjection, FakeWorkTopic, Outage

SHOP = 10
BASE_MS = 1_800_000_000_000


class World:
    """A Fanout on fakes that share one journal of writes."""

    def __init__(self, pull_threshold: int = 100, chunk_size: int = 100) -> None:
        self.journal: list[tuple] = []
        self.follows = FakeFollowProjection(self.journal)
        self.feeds = FakeFeedWrites(feed_cap=20, journal=self.journal)
        self.work = FakeWorkTopic()
        self.fanout = Fanout(self.follows, self.feeds, self.work, pull_threshold, chunk_size)

    async def shop_posts(self, count: int) -> list[bytes]:
        """Posts in the shop's timeline; their ids newest first."""
        for n in range(count):
            await self.feeds.add_to_timeline(SHOP, "beauty", 1000 + n, BASE_MS + n)
        return [str(1000 + n).encode() for n in reversed(range(count))]

    async def fans(self, *users: int, version: int = 1) -> None:
        """Active users following the shop."""
        self.feeds.active.update(users)
        await self.fanout.follows_changed([follow(u, True, version) for u in users])


def follow(user: int, following: bool, version: int) -> FollowChanged:
    return FollowChanged(
        user_id=str(user),
        account_id=str(SHOP),
        following=following,
        source="api",
        version=version,
        at="2026-11-25T00:00:00.000Z",
    )


def account(status: str, change: str, version: int) -> AccountChanged:
    return seller_changed(SHOP, status, version, change=change)


def published(post_id: int, ms: int) -> PostPublished:
    return PostPublished(
        post_id=str(post_id), account_id=str(SHOP), category="beauty", published_ms=ms
    )


async def test_a_redelivered_follow_redoes_its_backfill():
    world = World()
    posts = await world.shop_posts(3)
    world.feeds.active.add(1)
    world.feeds.fail_once("add_entries")
    with pytest.raises(Outage):
        await world.fanout.follows_changed([follow(1, True, 1)])
    await world.fanout.follows_changed([follow(1, True, 1)])  # the redelivery
    assert world.feeds.feed(1) == posts


async def test_an_unfollow_takes_the_accounts_posts_out_and_a_stale_follow_does_nothing():
    world = World()
    await world.shop_posts(3)
    await world.fans(1)
    await world.fanout.follows_changed([follow(1, False, 2)])
    await world.fanout.follows_changed([follow(1, True, 1)])  # older than the unfollow
    assert world.feeds.feed(1) == []


async def test_a_small_accounts_post_reaches_its_active_followers_inline():
    world = World()
    await world.fans(1, 2)
    await world.fanout.follows_changed([follow(3, True, 1)])  # never reads: inactive
    assert await world.fanout.post_published(published(7, BASE_MS)) == 2
    assert world.feeds.feed(1) == world.feeds.feed(2) == [b"7"]
    assert world.feeds.feed(3) == [] and world.work.sent == []


async def test_a_big_accounts_post_goes_out_as_chunks_that_reach_everyone():
    world = World(chunk_size=2)
    await world.fans(1, 2, 3, 4, 5)
    assert await world.fanout.post_published(published(7, BASE_MS)) == 0
    chunks = world.work.sent
    assert all(isinstance(c, FanoutChunk) for c in chunks) and len(chunks) == 3
    assert chunks[-1].through_user is None  # the last is open for late followers
    for chunk in chunks:
        await world.fanout.chunk(chunk)
    assert all(world.feeds.feed(u) == [b"7"] for u in range(1, 6))


async def test_a_deleted_post_leaves_feeds_and_its_redelivered_publish_is_ignored():
    world = World()
    await world.fans(1)
    await world.fanout.post_published(published(7, BASE_MS))
    await world.fanout.post_deleted(
        PostDeleted(post_id="7", account_id=str(SHOP), category="beauty", published_ms=BASE_MS)
    )
    assert await world.fanout.post_published(published(7, BASE_MS)) == 0
    assert world.feeds.feed(1) == [] and world.feeds.timelines[SHOP] == {}


async def test_a_pull_accounts_post_and_suspension_touch_no_feed_and_send_no_sweep():
    world = World(pull_threshold=2, chunk_size=1)
    await world.fans(1, 2)
    assert world.feeds.pulled == {SHOP}
    written = len(world.journal)
    await world.fanout.post_published(published(7, BASE_MS))
    await world.fanout.accounts_changed([account("suspended", "suspended", 2)])
    assert world.journal[written:] == [] and world.work.sent == []
    assert world.feeds.feed(1) == [] and (await world.feeds.timeline(SHOP, 1))[0].post_id == b"7"


async def test_a_big_accounts_suspension_goes_out_as_chunks_and_reinstatement_as_more():
    world = World(chunk_size=2)
    posts = await world.shop_posts(2)
    await world.fans(1, 2, 3, 4, 5)
    await world.fanout.accounts_changed([account("suspended", "suspended", 2)])
    sweeps = list(world.work.sent)
    assert [type(s) for s in sweeps] == [FeedSweep] * 3
    for sweep in sweeps:
        await world.fanout.sweep(sweep)
    assert all(world.feeds.feed(u) == [] for u in range(1, 6))

    await world.fanout.accounts_changed([account("active", "unsuspended", 3)])
    for sweep in sweeps:  # a stale chunk of the suspension, redelivered late, is skipped
        await world.fanout.sweep(sweep)
    for sweep in world.work.sent[3:]:
        await world.fanout.sweep(sweep)
    assert all(world.feeds.feed(u) == posts for u in range(1, 6))


async def test_a_switch_to_pull_marks_the_pull_set_before_the_projection():
    world = World(pull_threshold=2)
    await world.fans(1, 2)
    assert world.journal[-2:] == [("mark_pulled", SHOP, True), ("set_mode", SHOP, True, False)]


async def test_a_switch_to_push_copies_unmarks_and_copies_again():
    world = World(pull_threshold=3)
    posts = await world.shop_posts(2)
    await world.fans(1, 2, 3)
    world.journal.clear()
    await world.fanout.follows_changed([follow(3, False, 2)])  # 2 < 0.9 * 3: back to push
    assert world.journal == [
        ("remove", (3,)),
        ("add_entries", (1, 2)),
        ("mark_pulled", SHOP, False),
        ("set_mode", SHOP, False, True),
        ("add_entries", (1, 2)),
        ("set_mode", SHOP, False, False),
    ]
    assert world.feeds.feed(1) == world.feeds.feed(2) == posts


async def test_a_switch_to_push_cut_short_is_finished_by_the_redelivery():
    world = World(pull_threshold=3)
    posts = await world.shop_posts(2)
    await world.fans(1, 2, 3)
    world.feeds.fail_once("mark_pulled")
    with pytest.raises(Outage):
        await world.fanout.follows_changed([follow(3, False, 2)])
    await world.fanout.follows_changed([follow(3, False, 2)])
    assert world.feeds.pulled == set() and not world.follows.accounts[SHOP].pull
    assert world.feeds.feed(1) == posts


async def test_a_rebuild_merges_the_followed_push_accounts_and_marks_the_feed_ready():
    world = World()
    posts = await world.shop_posts(3)
    world.feeds.active.add(1)
    await world.fanout.follows_changed([follow(1, True, 1)])
    world.feeds.feeds.clear()  # the feed expired while the user was away
    assert await world.fanout.rebuild(1) == 3
    assert world.feeds.feed(1) == posts and world.feeds.ready == {1}
