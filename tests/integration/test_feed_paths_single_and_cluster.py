"""The fan-out write path and the feed read path, run by fanout's and feedread's own
stores against a single Redis and against a real 3-master Redis Cluster: multi-key
scripts stay within a node, hash tags keep a user's keys in one slot."""

from __future__ import annotations

from services.fanout.store import Entry, FanoutStore
from services.feedread.domain import Position
from services.feedread.service import Feedread
from services.feedread.store import FeedStore
from shared.events import AccountChanged, FollowChanged, PostPublished
from shared.feedstore.keys import PULL_ACCOUNTS, SEEN_READY, feed_key, seen_key
from shared.feedstore.packed import read_feed
from shared.ids import IdGenerator
from shared.redis_cluster import is_cluster
from tests.events import seller_changed
from tests.fakes.feedread import FakeEngagementLedger, FakeEventSender

ids = IdGenerator(worker=1002)
BASE_MS = 1_800_000_000_000


def account_event(account_id: int, status: str = "active") -> AccountChanged:
    return seller_changed(account_id, status, change="created")


def post_event(account_id: int, post_id: int, ms: int, category: str = "beauty"):
    return PostPublished(
        post_id=str(post_id),
        account_id=str(account_id),
        category=category,
        published_ms=ms,
        post={
            "id": str(post_id),
            "account_id": str(account_id),
            "category": category,
            "title": "t",
        },
    )


async def members(redis, key: str) -> list[bytes]:
    """A feed's post ids, newest first."""
    return [member for member, _ in await read_feed(redis, key)]


async def test_a_push_reaches_every_active_follower_across_the_nodes(feed_redis):
    store = FanoutStore(None, feed_redis, feed_cap=5)  # type: ignore[arg-type]
    users = [ids.next_id() for _ in range(3000)]
    active = users[::3] + users[1::3]
    async with feed_redis.pipeline(transaction=False) as pipe:
        for user in active:
            pipe.set(seen_key(user), SEEN_READY, ex=600)
        await pipe.execute()
    if is_cluster(feed_redis):  # the users really live on all three masters
        assert len({feed_redis.get_node_from_key(feed_key(u)).name for u in users}) == 3

    posts = [ids.next_id() for _ in range(7)]
    for offset, post_id in enumerate(posts):
        delivered = await store.push(post_id, "beauty", BASE_MS + offset, users)
        assert delivered == len(active)

    expected = [str(p).encode() for p in reversed(posts[-5:])]  # trimmed to the cap
    for user in users:
        feed = await members(feed_redis, feed_key(user))
        category_size = len(await members(feed_redis, feed_key(user, "beauty")))
        if user in set(active):
            assert feed == expected and category_size == 5
        else:
            assert feed == [] and category_size == 0

    # Three posts of another category: the feed keeps its newest 5, each category feed
    # its own newest 5.
    others = [ids.next_id() for _ in range(3)]
    for offset, post_id in enumerate(others, start=len(posts)):
        await store.push(post_id, "home", BASE_MS + offset, active)
    user = active[0]
    assert await members(feed_redis, feed_key(user)) == [
        str(p).encode() for p in [*reversed(others), posts[-1], posts[-2]]
    ]
    assert await members(feed_redis, feed_key(user, "beauty")) == expected
    assert len(await members(feed_redis, feed_key(user, "home"))) == 3

    gone = await store.timeline(0, 1)  # an empty timeline reads as nothing
    assert gone == []


async def test_a_page_merges_the_feed_with_pulled_timelines_in_order_on_any_topology(
    feed_redis,
):
    fanout = FanoutStore(None, feed_redis, feed_cap=800)  # type: ignore[arg-type]
    reader = FeedStore(feed_redis, active_ttl_s=600)
    user, pushed_shop, big_shop = ids.next_id(), ids.next_id(), ids.next_id()
    await reader.apply_accounts([account_event(pushed_shop), account_event(big_shop)])
    await reader.apply_follows(
        [
            FollowChanged(
                user_id=str(user),
                account_id=str(a),
                following=True,
                source="api",
                version=1,
                at="2026-11-25T00:00:00.000Z",
            )
            for a in (pushed_shop, big_shop)
        ]
    )
    await feed_redis.set(seen_key(user), SEEN_READY, ex=600)
    await feed_redis.sadd(PULL_ACCOUNTS, str(big_shop))
    expected = []
    for n in range(30):  # alternate: pushed posts and posts only in the big timeline
        shop = pushed_shop if n % 2 else big_shop
        post_id = ids.next_id()
        event = post_event(shop, post_id, BASE_MS + n)
        await reader.apply_post_published(event)
        await fanout.add_to_timeline(shop, "beauty", post_id, BASE_MS + n)
        if shop == pushed_shop:
            await fanout.push(post_id, "beauty", BASE_MS + n, [user])
        expected.insert(0, str(post_id))
    reader._pull = (0.0, set())  # no stale cache between the two topologies
    pages = Feedread(reader, FakeEngagementLedger(), FakeEventSender())

    seen: list[str] = []
    cursor: Position | None = None
    while True:
        page = await pages.page(user, 7, cursor, "beauty")
        seen.extend(item.post["id"] for item in page.items)
        cursor = page.next_position
        if cursor is None:
            break
    assert seen == expected
    await feed_redis.srem(PULL_ACCOUNTS, str(big_shop))


async def test_backfill_and_removal_reach_users_on_every_node(feed_redis):
    """add_entries (follow backfill, rebuild) and remove (unfollow, delete, suspension)
    run the same per-node scripts as a push."""
    store = FanoutStore(None, feed_redis, feed_cap=4)  # type: ignore[arg-type]
    users = [ids.next_id() for _ in range(600)]
    active = users[:400]  # the other 200 never read a feed: no backfill for them
    async with feed_redis.pipeline(transaction=False) as pipe:
        for user in active:
            pipe.set(seen_key(user), SEEN_READY, ex=600)
        await pipe.execute()
    categories = ["beauty", "home", "beauty", "food", "beauty", "home"]
    entries = [
        Entry(str(ids.next_id()).encode(), BASE_MS + n, category)
        for n, category in enumerate(categories)
    ]

    assert await store.add_entries(users, entries, only_active=True) == len(active)
    kept = list(reversed(entries))[:4]  # the cap: only the 4 newest are added at all
    newest = [e.post_id for e in kept]
    beauty = [e.post_id for e in kept if e.category == "beauty"]
    for user in users:
        feed = await members(feed_redis, feed_key(user))
        beauty_feed = await members(feed_redis, feed_key(user, "beauty"))
        if user in set(active):
            assert (feed, beauty_feed) == (newest, beauty)
        else:
            assert (feed, beauty_feed) == ([], [])

    gone = [entries[-1], entries[-2]]  # a home and a beauty post
    await store.remove(active, gone)
    home = [e.post_id for e in kept if e.category == "home"]
    for user in active:
        feed, beauty_feed, home_feed = [
            await members(feed_redis, feed_key(user, c)) for c in (None, "beauty", "home")
        ]
        assert feed == newest[2:]
        assert beauty_feed == beauty[1:] and home_feed == home[1:]
