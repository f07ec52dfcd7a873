"""Vote results (API.md "publishing"): a vote post shows its tally per option wherever
publishing serves it, one vote per user (a moved vote moves the tally), exact under
concurrent voters, and `closes_at` enforced."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.support import bulk_consumers, eventually, publish, seller

OPTIONS = ["原木色", "胡桃色", "奶油白"]


async def cast(api, post_id: str, user_id: str, option):
    return await api.call(
        "publishing",
        "PUT",
        f"/v1/posts/{post_id}/votes/{user_id}",
        as_=(user_id, "user"),
        json={"option": option},
    )


async def served_vote(api, shop_id: str, post_id: str) -> tuple[dict, dict]:
    """The post's vote as GET /v1/posts/{id} and the account's posts page show it."""
    post = (
        await api.call("publishing", "GET", f"/v1/posts/{post_id}", as_=("gw", "service"))
    ).expect(200)
    page = (
        await api.call("publishing", "GET", f"/v1/accounts/{shop_id}/posts", as_=("gw", "service"))
    ).expect(200)
    listed = next(item for item in page["items"] if item["id"] == post_id)
    return post["vote"], listed["vote"]


async def test_two_hundred_concurrent_voters_and_moved_votes_give_an_exact_tally(api):
    shop = await seller(api, "home")
    post = await publish(api, shop, "which colour?", kind="vote", vote={"options": OPTIONS})
    assert post["vote"]["counts"] == [0, 0, 0] and post["vote"]["total"] == 0
    voters = await bulk_consumers(api, 200)
    first = {user: index % 3 for index, user in enumerate(voters)}
    replies = await asyncio.gather(*(cast(api, post["id"], u, o) for u, o in first.items()))
    assert {r.status for r in replies} == {204}
    # A quarter move their vote, by text this time, all at once, each twice.
    movers = voters[:50]
    final = dict(first) | {user: (first[user] + 1) % 3 for user in movers}
    moves = [cast(api, post["id"], u, OPTIONS[final[u]]) for u in movers for _ in range(2)]
    assert {r.status for r in await asyncio.gather(*moves)} == {204}

    truth = Counter(final.values())
    expected = {"options": OPTIONS, "closes_at": None, "counts": [truth[i] for i in range(3)]}
    for vote in await served_vote(api, shop["id"], post["id"]):
        assert vote == expected | {"total": 200}
    counters = (
        await api.call("publishing", "GET", f"/v1/posts/{post['id']}", as_=("gw", "service"))
    ).expect(200)["counters"]
    assert counters["votes"] == 200


async def test_a_vote_after_closes_at_is_409_vote_closed_and_the_tally_stays(api):
    shop = await seller(api, "home")
    closes_at = datetime.now(UTC) + timedelta(seconds=2)
    vote = {"options": OPTIONS[:2], "closes_at": closes_at.isoformat()}
    post = await publish(api, shop, "quick poll", kind="vote", vote=vote)
    early, late = await bulk_consumers(api, 2)
    (await cast(api, post["id"], early, 1)).expect(204)

    async def clock() -> datetime:
        return datetime.now(UTC)

    await eventually(clock, lambda now: now > closes_at, what="the vote's closing time")
    reply = await cast(api, post["id"], late, 0)
    assert reply.status == 409 and reply.body["error"]["code"] == "vote_closed"
    moved = await cast(api, post["id"], early, 0)
    assert moved.status == 409
    for vote in await served_vote(api, shop["id"], post["id"]):
        assert vote["counts"] == [0, 1] and vote["total"] == 1


async def test_a_vote_on_a_post_that_is_not_a_vote_is_400_not_a_vote(api):
    shop = await seller(api, "home")
    post = await publish(api, shop, "just words")
    [user] = await bulk_consumers(api, 1)
    reply = await cast(api, post["id"], user, 0)
    assert reply.status == 400 and reply.body["error"]["code"] == "not_a_vote"
    assert post["vote"] is None
