"""A vote post in a follower's feed shows its tally as votes come in (post.tallied kept by
feedread), and a redelivered older tally never rolls it back."""

from __future__ import annotations

import asyncio

from shared.events import PostTallied
from shared.topics import POSTS
from tests.support import bulk_consumers, consumers, eventually, publish, seller, send_to

OPTIONS = ["原木色", "胡桃色"]


async def feed_votes(api, reader: str) -> dict[str, dict]:
    """Each vote post's `vote` as the reader's feed serves it, by post id."""
    page = await api.feed(reader)
    return {i["post"]["id"]: i["post"]["vote"] for i in page["items"] if i["post"]["vote"]}


async def test_a_vote_in_a_followers_feed_shows_the_counts_and_an_old_tally_cannot_undo_them(
    api, stack
):
    shop = await seller(api, "home")
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    post = await publish(api, shop, "which colour?", kind="vote", vote={"options": OPTIONS})
    other = await publish(api, shop, "and the legs?", kind="vote", vote={"options": OPTIONS})
    voters = await bulk_consumers(api, 3)
    votes = [
        api.call(
            "publishing",
            "PUT",
            f"/v1/posts/{post['id']}/votes/{user}",
            as_=(user, "user"),
            json={"option": option},
        )
        for user, option in zip(voters, (0, 1, 1), strict=True)
    ]
    assert {r.status for r in await asyncio.gather(*votes)} == {204}
    counted = {"options": OPTIONS, "closes_at": None, "counts": [1, 2], "total": 3}
    await eventually(
        lambda: feed_votes(api, fan["id"]),
        lambda found: found.get(post["id"]) == counted,
        what="the votes in the follower's feed",
    )

    # A redelivered first tally, then (same key, same partition: read after it) a tally of
    # the other post that shows once feedread has read both.
    stale = PostTallied(
        post_id=post["id"], account_id=shop["id"], tally_version=1, vote_counts=[1, 0],
        vote_total=1,
    )  # fmt: skip
    marker = PostTallied(
        post_id=other["id"], account_id=shop["id"], tally_version=10**6, vote_counts=[4, 4],
        vote_total=8,
    )  # fmt: skip
    records = [(shop["id"].encode(), e.envelope().encode()) for e in (stale, marker)]
    await send_to(stack.str("WEITAO_KAFKA_BOOTSTRAP"), POSTS.name, records)
    found = await eventually(
        lambda: feed_votes(api, fan["id"]),
        lambda found: found.get(other["id"], {}).get("counts") == [4, 4],
        what="the marker tally in the feed",
    )
    assert found[post["id"]] == counted
