"""Accounts over HTTP, as API.md states it: invitations, sign-up, follows, QR, suspension."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from shared.events import FollowChanged
from tests.support import (
    consumers,
    events_of_type,
    eventually,
    feed_ids,
    gather_limited,
    handle,
    publish,
    seller,
)

STAFF = ("staff-1", "staff")
GATEWAY = ("gateway", "service")


async def sign_up(api, kind: str, code: str | None, category: str | None = "beauty"):
    body = {"handle": handle(kind), "kind": kind, "display_name": "小红的美妆铺子"}
    if code is not None:
        body["invitation_code"] = code
    if category is not None:
        body["category"] = category
    return await api.call("accounts", "POST", "/v1/accounts", as_=GATEWAY, json=body)


async def test_fifty_concurrent_sign_ups_on_a_ten_use_code_make_exactly_ten_accounts(api):
    code = await api.create_invitation(max_uses=10)
    replies = await asyncio.gather(*(sign_up(api, "influencer", code) for _ in range(50)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] * 10 + [400] * 40
    refused = [r.body["error"] for r in replies if r.status == 400]
    assert {e["code"] for e in refused} == {"invitation_invalid"}
    assert {e["details"]["reason"] for e in refused} == {"used_up"}


async def test_expired_and_wrong_kind_and_unknown_codes_are_invalid(api):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = await api.create_invitation(max_uses=5, expires_at=past)
    media_only = await api.create_invitation(max_uses=5, kinds=["media"])
    for code, kind, reason in (
        (expired, "seller", "expired"),
        (media_only, "seller", "wrong_kind"),
        ("NOSUCHCODE42", "seller", "unknown"),
    ):
        reply = await sign_up(api, kind, code)
        assert reply.status == 400, reply.body
        assert reply.body["error"]["code"] == "invitation_invalid"
        assert reply.body["error"]["details"]["reason"] == reason
    assert (await sign_up(api, "media", media_only)).status == 201


async def test_operators_need_a_code_and_consumers_do_not(api):
    reply = await sign_up(api, "seller", None)
    assert reply.status == 403 and reply.body["error"]["code"] == "invitation_required"
    consumer = await sign_up(api, "consumer", None, category=None)
    assert consumer.status == 201
    assert consumer.body["display_name"] == "小红的美妆铺子"
    assert consumer.body["followers_count"] == consumer.body["following_count"] == 0


async def test_a_taken_handle_is_409_and_lookup_by_handle_and_id_agree(api):
    (fan,) = await consumers(api, 1)
    reply = await api.call(
        "accounts",
        "POST",
        "/v1/accounts",
        as_=GATEWAY,
        json={"handle": fan["handle"], "kind": "consumer", "display_name": "x"},
    )
    assert reply.status == 409 and reply.body["error"]["code"] == "handle_taken"
    by_handle = await api.call(
        "accounts", "GET", f"/v1/accounts/by-handle/{fan['handle']}", as_=GATEWAY
    )
    by_id = await api.call("accounts", "GET", f"/v1/accounts/{fan['id']}", as_=GATEWAY)
    assert by_handle.expect(200) == by_id.expect(200) == fan


async def test_only_staff_issue_invitations_and_only_service_or_staff_create_accounts(api):
    (fan,) = await consumers(api, 1)
    as_user = (fan["id"], "user")
    reply = await api.call("accounts", "POST", "/v1/invitations", as_=as_user, json={"max_uses": 1})
    assert reply.status == 403
    reply = await api.call(
        "accounts",
        "POST",
        "/v1/accounts",
        as_=as_user,
        json={"handle": handle("x"), "kind": "consumer", "display_name": "x"},
    )
    assert reply.status == 403


async def count(api, account_id: str, field: str) -> int:
    reply = await api.call("accounts", "GET", f"/v1/accounts/{account_id}", as_=GATEWAY)
    return reply.expect(200)[field]


async def test_concurrent_follows_and_unfollows_keep_counts_exact(api):
    shop = await seller(api)
    fans = await consumers(api, 60)
    # Everyone follows twice at once (idempotent), then half unfollow twice at once.
    await gather_limited([lambda f=f: api.follow(f["id"], shop["id"]) for f in fans * 2])
    assert await count(api, shop["id"], "followers_count") == 60
    await gather_limited([lambda f=f: api.unfollow(f["id"], shop["id"]) for f in fans[:30] * 2])
    assert await count(api, shop["id"], "followers_count") == 30
    assert await count(api, fans[0]["id"], "following_count") == 0
    assert await count(api, fans[59]["id"], "following_count") == 1


async def test_following_oneself_a_consumer_or_nobody_is_refused(api):
    shop = await seller(api)
    fan, other = await consumers(api, 2)
    for target, status, code in (
        (fan["id"], 400, "cannot_follow_self"),
        (other["id"], 400, "not_followable"),
        ("123456789", 404, "not_found"),
    ):
        reply = await api.call(
            "accounts", "PUT", f"/v1/users/{fan['id']}/following/{target}", as_=(fan["id"], "user")
        )
        assert reply.status == status and reply.body["error"]["code"] == code
    reply = await api.call(
        "accounts",
        "PUT",
        f"/v1/users/{fan['id']}/following/{shop['id']}",
        as_=(other["id"], "user"),
    )
    assert reply.status == 403  # a user acts only as itself


async def test_following_and_followers_pages_are_newest_follow_first(api):
    shops = [await seller(api) for _ in range(3)]
    fans = await consumers(api, 3)
    for shop in shops:
        await api.follow(fans[0]["id"], shop["id"])
    for fan in fans:
        await api.follow(fan["id"], shops[0]["id"])
    pages, cursor = [], None
    while True:
        reply = await api.call(
            "accounts",
            "GET",
            f"/v1/users/{fans[0]['id']}/following",
            as_=(fans[0]["id"], "user"),
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
        )
        body = reply.expect(200)
        pages.append([a["id"] for a in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [i for p in pages for i in p] == [s["id"] for s in reversed(shops)]
    reply = await api.call(
        "accounts", "GET", f"/v1/accounts/{shops[0]['id']}/followers", as_=(shops[0]["id"], "user")
    )
    assert [a["id"] for a in reply.expect(200)["items"]] == [f["id"] for f in reversed(fans)]
    stranger = await api.call(
        "accounts", "GET", f"/v1/accounts/{shops[0]['id']}/followers", as_=(fans[1]["id"], "user")
    )
    assert stranger.status == 403


async def test_scanning_the_qr_code_follows_with_source_qr(api, stack):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    token = (
        await api.call(
            "accounts", "GET", f"/v1/accounts/{shop['id']}/follow-token", as_=(shop["id"], "user")
        )
    ).expect(200)
    assert token["url"].endswith(token["token"])
    svg = await api.call(
        "accounts", "GET", f"/v1/accounts/{shop['id']}/qr.svg", as_=(shop["id"], "user")
    )
    assert svg.status == 200 and b"<svg" in svg.body
    png = await api.call(
        "accounts", "GET", f"/v1/accounts/{shop['id']}/qr.png", as_=(shop["id"], "user")
    )
    assert png.status == 200 and png.body.startswith(b"\x89PNG\r\n\x1a\n")

    reply = await api.call(
        "accounts", "POST", f"/v1/follow-tokens/{token['token']}/redeem", as_=(fan["id"], "user")
    )
    assert reply.status == 204
    assert await count(api, shop["id"], "followers_count") == 1

    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    events = await eventually(
        lambda: events_of_type(bootstrap, {shop["id"]}, FollowChanged),
        lambda found: len(found) == 1,
        what="follow event",
    )
    assert events[0].source == "qr" and events[0].user_id == fan["id"]


async def test_a_forged_or_tampered_follow_token_is_token_invalid(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    token = (
        await api.call(
            "accounts", "GET", f"/v1/accounts/{shop['id']}/follow-token", as_=(shop["id"], "user")
        )
    ).expect(200)["token"]
    forged = token.replace(shop["id"], str(int(shop["id"]) + 1), 1)
    for bad in (forged, token[:-3] + "abc", "1.2.3"):
        reply = await api.call(
            "accounts", "POST", f"/v1/follow-tokens/{bad}/redeem", as_=(fan["id"], "user")
        )
        assert reply.status == 400 and reply.body["error"]["code"] == "token_invalid"
    assert await count(api, shop["id"], "followers_count") == 0


async def test_a_suspended_account_cannot_publish_and_its_posts_leave_feeds(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    await api.follow(fan["id"], shop["id"])
    post = await publish(api, shop, "before suspension")
    await eventually(
        lambda: feed_ids(api, fan["id"]), lambda ids: post["id"] in ids, what="post in feed"
    )
    reply = await api.call(
        "accounts", "POST", f"/v1/accounts/{shop['id']}/suspend", as_=(shop["id"], "user")
    )
    assert reply.status == 403  # staff only
    (await api.call("accounts", "POST", f"/v1/accounts/{shop['id']}/suspend", as_=STAFF)).expect(
        204
    )
    assert (await api.call("accounts", "GET", f"/v1/accounts/{shop['id']}", as_=STAFF)).expect(200)[
        "status"
    ] == "suspended"

    await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: ids == [],
        what="suspended account's posts gone",
    )

    # Publishing learns of the suspension from Kafka, so attempts made before its projection
    # catches up are accepted at first; once it learns, it retracts them like deletes.
    accepted: list[str] = []

    async def publish_attempt():
        reply = await api.call(
            "publishing",
            "POST",
            f"/v1/accounts/{shop['id']}/posts",
            as_=(shop["id"], "user"),
            json={"kind": "article", "title": "t", "body": f"#{secrets.token_hex(12)}"},
        )
        if reply.status == 201:
            accepted.append(reply.body["id"])
        return reply

    refused = await eventually(
        publish_attempt, lambda r: r.status == 403, what="publishing refuses the suspended account"
    )
    assert refused.body["error"]["code"] == "account_suspended"
    assert await feed_ids(api, fan["id"]) == []

    (await api.call("accounts", "POST", f"/v1/accounts/{shop['id']}/unsuspend", as_=STAFF)).expect(
        204
    )
    await eventually(
        lambda: feed_ids(api, fan["id"]),
        lambda ids: ids == [post["id"]],
        what="the post from before the suspension back, none accepted during it",
    )
    for post_id in accepted:
        gone = await api.call("publishing", "GET", f"/v1/posts/{post_id}", as_=STAFF)
        assert gone.status == 404, post_id
