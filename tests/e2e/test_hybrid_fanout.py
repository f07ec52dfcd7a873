"""Fan-out at Weitao's shape, over HTTP against the running stack: push and pull
accounts and the switch between them, inactive users, category feeds, removals."""

from __future__ import annotations

from shared.feedstore.keys import (
    PULL_ACCOUNTS,
    SEEN_READY,
    feed_key,
    post_key,
    seen_key,
    timeline_key,
)
from shared.feedstore.packed import read_feed
from shared.feedstore.writer import FeedWriter
from tests.support import (
    bulk_consumers,
    bulk_follow,
    consumers,
    eventually,
    fanout_stats,
    feed_ids,
    gather_limited,
    publish,
    seller,
)


async def score_in(redis, key: str, post_id: str | None):
    """The post's score in a feed (None: not there); with no post, the feed's post ids."""
    feed = dict(await read_feed(redis, key))
    return set(feed) if post_id is None else feed.get(post_id.encode())


async def in_timeline(redis, account: dict, post: dict) -> None:
    """The post is in the account's timeline (fanout) and feedread can show it (its
    projection of the post, which the two services build from the event independently)."""
    await eventually(
        lambda: redis.zscore(timeline_key(account["id"]), post["id"]),
        lambda score: score is not None,
        what="post in the account timeline",
    )
    await eventually(
        lambda: redis.exists(post_key(post["id"])),
        lambda found: found == 1,
        what="post known to feedread",
    )


async def test_an_account_crossing_the_pull_threshold_both_ways_loses_no_post(api, redis):
    threshold = (await fanout_stats(api))["pull_threshold"]
    shop = await seller(api)
    (reader,) = await consumers(api, 1)
    await api.follow(reader["id"], shop["id"])
    await api.feed(reader["id"])  # the reader is active: pushes reach them
    pushed = await publish(api, shop, "while pushed")
    await eventually(
        lambda: score_in(redis, feed_key(reader["id"]), pushed["id"]),
        lambda score: score is not None,
        what="pushed into the feed",
    )

    crowd = await bulk_consumers(api, threshold)
    await bulk_follow(api, crowd, shop["id"])
    await eventually(
        lambda: redis.sismember(PULL_ACCOUNTS, shop["id"]),
        bool,
        timeout_s=60,
        what="account switched to pull",
    )
    pulled = await publish(api, shop, "while pulled")
    await eventually(
        lambda: feed_ids(api, reader["id"]),
        lambda ids: ids == [pulled["id"], pushed["id"]],
        what="merged at read",
    )
    assert await score_in(redis, feed_key(reader["id"]), pulled["id"]) is None  # not pushed

    await bulk_follow(api, crowd[: threshold // 5], shop["id"], action="unfollow")
    await eventually(
        lambda: redis.sismember(PULL_ACCOUNTS, shop["id"]),
        lambda m: not m,
        timeout_s=60,
        what="account back to push",
    )
    again = await publish(api, shop, "pushed again")
    ids = await eventually(
        lambda: feed_ids(api, reader["id"]), lambda ids: len(ids) == 3, what="all three posts"
    )
    assert ids == [again["id"], pulled["id"], pushed["id"]]
    wanted = {pulled["id"].encode(), again["id"].encode()}  # copied back, and pushed
    await eventually(
        lambda: score_in(redis, feed_key(reader["id"]), None),
        lambda feed: wanted <= set(feed),
        timeout_s=60,  # the copy back reaches every follower: many, on a big threshold
        what="materialized again",
    )


async def test_an_inactive_user_gets_no_pushes_yet_a_full_first_page_then_a_rebuilt_feed(
    api, redis
):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    first = await publish(api, shop, "while away")
    await in_timeline(redis, shop, first)
    assert await score_in(redis, feed_key(fan["id"]), first["id"]) is None  # never read: no push

    assert await feed_ids(api, fan["id"]) == [first["id"]]  # merged from timelines at once
    await eventually(
        lambda: redis.get(seen_key(fan["id"])),
        lambda v: v == SEEN_READY,
        what="feed rebuilt in the background",
    )
    assert await score_in(redis, feed_key(fan["id"]), first["id"]) is not None

    await redis.delete(seen_key(fan["id"]))  # seven days without a read
    second = await publish(api, shop, "gone again")
    await in_timeline(redis, shop, second)
    assert await score_in(redis, feed_key(fan["id"]), second["id"]) is None
    assert await feed_ids(api, fan["id"]) == [second["id"], first["id"]]


async def test_a_category_that_is_5_percent_of_the_feed_still_fills_a_page(api, redis):
    fashion = await gather_limited([lambda: seller(api, "women_fashion") for _ in range(19)])
    beauty = await seller(api, "beauty")
    (fan,) = await consumers(api, 1)
    await gather_limited([lambda s=s: api.follow(fan["id"], s["id"]) for s in [*fashion, beauty]])
    await api.feed(fan["id"])
    await eventually(
        lambda: redis.get(seen_key(fan["id"])),
        lambda v: v == SEEN_READY,
        what="active with a materialized feed",
    )
    beauty_posts = [await publish(api, beauty, f"beauty {i}") for i in range(3)]
    await gather_limited(
        [lambda s=s, i=i: publish(api, s, f"fashion {i}") for s in fashion for i in range(3)]
    )

    wanted = [p["id"] for p in reversed(beauty_posts)]
    page = await eventually(
        lambda: api.feed(fan["id"], category="beauty", limit=3),
        lambda p: [i["post"]["id"] for i in p["items"]] == wanted,
        what="the beauty page",
    )
    assert {i["account"]["id"] for i in page["items"]} == {beauty["id"]}
    assert len(await read_feed(redis, feed_key(fan["id"], "beauty"))) == 3  # its own key
    fashion_page = await eventually(
        lambda: api.feed(fan["id"], category="women_fashion", limit=20),
        lambda p: len(p["items"]) == 20,
        what="a full fashion page",
    )
    assert {i["post"]["category"] for i in fashion_page["items"]} == {"women_fashion"}


async def test_a_page_of_20_stays_20_valid_items_when_posts_were_deleted(api, redis):
    shops = await gather_limited([lambda: seller(api) for _ in range(9)])
    (fan,) = await consumers(api, 1)
    await gather_limited([lambda s=s: api.follow(fan["id"], s["id"]) for s in shops])
    await api.feed(fan["id"])
    posts = await gather_limited(
        [lambda s=s, i=i: publish(api, s, f"post {i}") for s in shops for i in range(3)]
    )
    newest_first = sorted(posts, key=lambda p: (p["created_at"], p["id"]), reverse=True)
    doomed = newest_first[1:8:2]  # four posts among the newest
    for post in doomed:
        (
            await api.call(
                "publishing", "DELETE", f"/v1/posts/{post['id']}", as_=(post["account_id"], "user")
            )
        ).expect(204)
    expected = [p["id"] for p in newest_first if p not in doomed][:20]
    await eventually(
        lambda: feed_ids(api, fan["id"], limit=20),
        lambda ids: ids == expected,
        what="20 valid items",
    )


async def test_a_deleted_post_is_never_served_even_if_a_late_write_puts_it_back(api, redis):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    await api.feed(fan["id"])
    post = await publish(api, shop, "deleted soon")
    await eventually(
        lambda: feed_ids(api, fan["id"]), lambda ids: ids == [post["id"]], what="post served"
    )
    (
        await api.call("publishing", "DELETE", f"/v1/posts/{post['id']}", as_=(shop["id"], "user"))
    ).expect(204)
    await eventually(lambda: feed_ids(api, fan["id"]), lambda ids: ids == [], what="post gone")
    # A fan-out chunk that read the followers before the delete writes it back late:
    await FeedWriter(redis, 800, 1000).push(int(post["id"]), "other", 1, [int(fan["id"])])
    assert await feed_ids(api, fan["id"]) == []


async def test_the_admin_rebuild_restores_a_wiped_feed(api, redis):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    await api.feed(fan["id"])
    post = await publish(api, shop, "survives a wipe")
    await eventually(
        lambda: score_in(redis, feed_key(fan["id"]), post["id"]),
        lambda score: score is not None,
        what="pushed",
    )
    await redis.delete(feed_key(fan["id"]))
    reply = await api.call(
        "fanout", "POST", f"/v1/admin/users/{fan['id']}/feed/rebuild", as_=("ops", "staff")
    )
    assert reply.status == 202
    assert await score_in(redis, feed_key(fan["id"]), post["id"]) is not None
    denied = await api.call(
        "fanout", "POST", f"/v1/admin/users/{fan['id']}/feed/rebuild", as_=(fan["id"], "user")
    )
    assert denied.status == 403
