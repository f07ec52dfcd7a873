"""A suspended account cannot publish, even in the moments before publishing's copy of the
account learns of the suspension: what it got accepted then is retracted, from its
followers' feeds and from publishing, and unsuspension does not bring it back."""

from __future__ import annotations

import asyncio
import secrets

from tests.support import consumers, eventually, feed_ids, publish, seller

STAFF = ("staff", "staff")
ATTEMPTS = 20  # publishes fired at once as soon as the suspension is made


async def get_status(api, post_id: str) -> int:
    return (await api.call("publishing", "GET", f"/v1/posts/{post_id}", as_=STAFF)).status


async def test_posts_accepted_while_publishing_lags_a_suspension_never_show(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    kept = await publish(api, shop, "before the suspension")
    await eventually(
        lambda: feed_ids(api, fan["id"]), lambda ids: ids == [kept["id"]], what="post in feed"
    )

    accepted: list[str] = []

    async def attempt():
        body = {"kind": "article", "title": "t", "body": secrets.token_hex(12)}
        reply = await api.call(
            "publishing",
            "POST",
            f"/v1/accounts/{shop['id']}/posts",
            as_=(shop["id"], "user"),
            json=body,
        )
        if reply.status == 201:
            accepted.append(reply.body["id"])
        return reply

    (await api.call("accounts", "POST", f"/v1/accounts/{shop['id']}/suspend", as_=STAFF)).expect(
        204
    )
    await asyncio.gather(*(attempt() for _ in range(ATTEMPTS)))
    # Then a tight loop until publishing has read the suspension.
    refused = await eventually(attempt, lambda r: r.status == 403, what="publishing refuses")
    assert refused.body["error"]["code"] == "account_suspended"

    for post_id in accepted:
        await eventually(
            lambda post_id=post_id: get_status(api, post_id),
            lambda status: status == 404,
            what=f"post {post_id} accepted after the suspension retracted",
        )
    await eventually(
        lambda: feed_ids(api, fan["id"]), lambda ids: ids == [], what="none shown while suspended"
    )
    (await api.call("accounts", "POST", f"/v1/accounts/{shop['id']}/unsuspend", as_=STAFF)).expect(
        204
    )
    await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: ids == [kept["id"]],
        what="only the post made before the suspension back after unsuspension",
    )
    assert [await get_status(api, post_id) for post_id in accepted] == [404] * len(accepted)
