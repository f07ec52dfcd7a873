"""The end-to-end path over HTTP: publish -> fan-out -> feeds, and what takes posts out."""

from __future__ import annotations

import asyncio

from tests.support import consumers, eventually, feed_ids, gather_limited, publish, seller


async def test_a_post_reaches_every_one_of_1000_followers(api):
    shop = await seller(api)
    fans = await consumers(api, 1000)
    await gather_limited([lambda f=f: api.follow(f["id"], shop["id"]) for f in fans])
    post = await publish(api, shop, "秋冬新款大衣", "羊毛双面呢，七折")

    async def missing() -> list[str]:
        seen = await gather_limited([lambda f=f: feed_ids(api, f["id"]) for f in fans])
        return [f["id"] for f, ids in zip(fans, seen, strict=True) if post["id"] not in ids]

    await eventually(missing, lambda left: not left, timeout_s=20, what="post in all feeds")
    account = (
        await api.call("accounts", "GET", f"/v1/accounts/{shop['id']}", as_=(shop["id"], "user"))
    ).expect(200)
    assert account["followers_count"] == 1000


async def test_unfollow_takes_the_accounts_posts_out_and_keeps_others(api):
    shop, other = await seller(api), await seller(api, "beauty")
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    await api.follow(fan["id"], other["id"])
    gone = await publish(api, shop, "unfollowed soon")
    kept = await publish(api, other, "still followed")
    await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: {gone["id"], kept["id"]} <= set(ids),
        what="both posts",
    )

    await api.unfollow(fan["id"], shop["id"])

    ids = await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: gone["id"] not in ids,
        what="unfollowed post gone",
    )
    assert kept["id"] in ids


async def test_deleting_a_post_takes_it_out_of_the_feed(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    doomed = await publish(api, shop, "to be deleted")
    stays = await publish(api, shop, "stays")
    await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: {doomed["id"], stays["id"]} <= set(ids),
        what="both posts",
    )

    (
        await api.call(
            "publishing", "DELETE", f"/v1/posts/{doomed['id']}", as_=(shop["id"], "user")
        )
    ).expect(204)

    ids = await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: doomed["id"] not in ids,
        what="deleted post gone",
    )
    assert ids == [stays["id"]]
    gone = await api.call("publishing", "GET", f"/v1/posts/{doomed['id']}", as_=(fan["id"], "user"))
    assert gone.status == 404 and gone.body["error"]["code"] == "not_found"


async def test_a_new_follow_backfills_the_accounts_recent_posts(api):
    shop = await seller(api)
    earlier = [await publish(api, shop, f"earlier post {i}") for i in range(3)]
    (fan,) = await consumers(api, 1)
    await asyncio.sleep(0.2)  # the posts are out before the follow, as in real use

    await api.follow(fan["id"], shop["id"])

    ids = await eventually(
        lambda: feed_ids(api, fan["id"]), lambda ids: len(ids) == 3, what="backfilled posts"
    )
    assert ids == [p["id"] for p in reversed(earlier)]  # newest first


async def test_cursor_pages_of_a_100_item_feed_neither_repeat_nor_skip_while_posts_arrive(api):
    shops = await gather_limited([lambda: seller(api) for _ in range(40)])
    (fan,) = await consumers(api, 1)
    await gather_limited([lambda s=s: api.follow(fan["id"], s["id"]) for s in shops])
    posts = await gather_limited(
        [lambda s=s, i=i: publish(api, s, f"post {i}") for s in shops[:34] for i in range(3)]
    )
    # The feed's order: publish time (ms) then id, newest first.
    expected = [
        p["id"] for p in sorted(posts, key=lambda p: (p["created_at"], p["id"]), reverse=True)
    ]
    await eventually(
        lambda: feed_ids(api, fan["id"], limit=100),
        lambda ids: ids == expected[:100],
        what="all 102 posts in the feed",
    )

    seen: list[str] = []
    arrived: list[str] = []
    cursor = None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = await api.feed(fan["id"], **params)
        seen.extend(item["post"]["id"] for item in page["items"])
        if len(arrived) < 6:  # new posts land on top of the feed while we page down
            late = await publish(api, shops[34 + len(arrived)], "arrives late")
            arrived.append(late["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == expected  # every item once, none skipped, in order
    assert not set(arrived) & set(seen)
    top = await eventually(
        lambda: feed_ids(api, fan["id"], limit=6),
        lambda ids: set(ids) == set(arrived),
        what="late posts on top",
    )
    assert set(top) == set(arrived)
