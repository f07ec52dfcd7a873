"""Notifications over the whole stack: follows, likes, comments and votes made through the
API reach the operator as grouped notifications over Kafka, with exact counts (200
concurrent likes of one post included), unread counts and read marks; only the user
itself or a service may read them; bad input is a 4xx."""

from __future__ import annotations

from typing import Any

import pytest

from bench.client import WeitaoClient
from services.notifications.config import NotificationsConfig
from shared.config import Env
from tests.support import consumers, eventually, gather_limited, publish, seller

SETTLE_S = 30.0  # the service may still be catching up on the topics' history


@pytest.fixture(scope="session")
def notes(api: WeitaoClient, stack: Env) -> WeitaoClient:
    """The stack's client, also knowing where notifications serve."""
    url = stack.values.get("WEITAO_NOTIFICATIONS_URL") or (
        f"http://127.0.0.1:{NotificationsConfig.from_env(stack).port}"
    )
    return WeitaoClient(api.session, {**api.urls, "notifications": url}, api.secret)


async def groups_of(notes: WeitaoClient, user_id: str, **params: Any) -> dict[str, Any]:
    reply = await notes.call(
        "notifications",
        "GET",
        f"/v1/users/{user_id}/notifications",
        as_=(user_id, "user"),
        params=params,
    )
    return reply.expect(200)


async def settled(notes: WeitaoClient, user_id: str, expected: dict[str, int]) -> list[dict]:
    """The user's groups once their counts by kind are `expected`."""
    page = await eventually(
        lambda: groups_of(notes, user_id),
        lambda p: {g["kind"]: g["count"] for g in p["items"]} == expected,
        timeout_s=SETTLE_S,
        what=f"notifications {expected}",
    )
    return page["items"]


async def interact(api: WeitaoClient, method: str, path: str, user_id: str, body=None) -> None:
    reply = await api.call("publishing", method, path, as_=(user_id, "user"), json=body)
    assert reply.status in (201, 204), reply


async def test_follows_likes_comments_and_votes_reach_the_operator_grouped(api, notes):
    shop = await seller(api)
    fans = await consumers(api, 4)
    post = await publish(api, shop, "notify me")
    poll = await publish(api, shop, "pick", kind="vote", vote={"options": ["a", "b"]})
    likes, votes = f"/v1/posts/{post['id']}/likes", f"/v1/posts/{poll['id']}/votes"
    for fan in fans:
        await api.follow(fan["id"], shop["id"])
        await interact(api, "PUT", f"{likes}/{fan['id']}", fan["id"])
    await api.unfollow(fans[0]["id"], shop["id"])
    await interact(api, "DELETE", f"{likes}/{fans[1]['id']}", fans[1]["id"])
    await interact(api, "PUT", f"{likes}/{fans[1]['id']}", fans[1]["id"])  # a re-like
    await interact(api, "DELETE", f"{likes}/{fans[2]['id']}", fans[2]["id"])
    for option in ("a", "b"):  # a moved vote is one voter
        await interact(api, "PUT", f"{votes}/{fans[3]['id']}", fans[3]["id"], {"option": option})
    comments = f"/v1/posts/{post['id']}/comments"
    await interact(api, "POST", comments, fans[3]["id"], {"text": "好看"})
    await interact(api, "POST", comments, shop["id"], {"text": "谢谢"})  # the owner's own

    items = await settled(
        notes, shop["id"], {"followed": 3, "liked": 3, "voted": 1, "commented": 1}
    )
    by_kind = {g["kind"]: g for g in items}
    assert by_kind["liked"]["post_id"] == post["id"] and by_kind["voted"]["post_id"] == poll["id"]
    assert by_kind["followed"]["post_id"] is None
    followers = by_kind["followed"]["sample_accounts"]
    assert {a["id"] for a in followers} == {f["id"] for f in fans[1:]}
    assert {a["source"] for a in followers} == {"api"}
    assert {a["handle"] for a in by_kind["commented"]["sample_accounts"]} == {fans[3]["handle"]}
    assert [g["last_at"] for g in items] == sorted((g["last_at"] for g in items), reverse=True)

    path = f"/v1/users/{shop['id']}/notifications"
    unread = await notes.call(
        "notifications", "GET", f"{path}/unread_count", as_=(shop["id"], "user")
    )
    assert unread.expect(200) == {"count": 4}
    newest = items[0]["last_at"]
    read = await notes.call(
        "notifications", "POST", f"{path}/read", as_=(shop["id"], "user"), json={"up_to": newest}
    )
    assert read.status == 204
    unread = await notes.call(
        "notifications", "GET", f"{path}/unread_count", as_=(shop["id"], "service")
    )
    assert unread.expect(200) == {"count": 0}
    assert all(g["read"] for g in (await groups_of(notes, shop["id"]))["items"])


async def test_two_hundred_concurrent_likes_of_one_post_notify_an_exact_count(api, notes):
    shop = await seller(api)
    fans = await consumers(api, 200)
    post = await publish(api, shop, "everyone likes this")
    path = f"/v1/posts/{post['id']}/likes"
    await gather_limited(
        [lambda f=f: interact(api, "PUT", f"{path}/{f['id']}", f["id"]) for f in fans]
    )
    [group] = await settled(notes, shop["id"], {"liked": 200})
    assert len(group["sample_accounts"]) == 8


async def test_pages_of_groups_never_repeat_or_skip_one(api, notes):
    shop = await seller(api)
    fans = await consumers(api, 3)
    posts = [await publish(api, shop, f"post {i}") for i in range(3)]
    for fan, post in zip(fans, posts, strict=True):
        await interact(api, "PUT", f"/v1/posts/{post['id']}/likes/{fan['id']}", fan["id"])
        await api.follow(fan["id"], shop["id"])
    await settled(notes, shop["id"], {"liked": 1, "followed": 3})  # counts by kind collapse
    everything = (await groups_of(notes, shop["id"]))["items"]
    assert len(everything) == 4
    seen, cursor = [], None
    while True:
        page = await groups_of(notes, shop["id"], limit=1, **({"cursor": cursor} if cursor else {}))
        seen.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert [g["id"] for g in seen] == [g["id"] for g in everything]


async def test_only_the_user_or_a_service_reads_notifications_and_bad_input_is_a_4xx(api, notes):
    alice, bob = await consumers(api, 2)
    path = f"/v1/users/{alice['id']}/notifications"
    for suffix in ("", "/unread_count"):
        assert (await notes.call("notifications", "GET", path + suffix, as_=None)).status == 401
        for caller in ((bob["id"], "user"), (alice["id"], "staff")):
            reply = await notes.call("notifications", "GET", path + suffix, as_=caller)
            assert reply.status == 403
        assert (
            await notes.call("notifications", "GET", path + suffix, as_=(bob["id"], "service"))
        ).status == 200
    me = (alice["id"], "user")
    for params in ({"limit": "0"}, {"limit": "x"}, {"cursor": "nope"}):
        reply = await notes.call("notifications", "GET", path, as_=me, params=params)
        assert reply.expect(400)["error"]["code"] == "validation_error"
    for body in ({}, {"up_to": "yesterday"}, {"up_to": "2026-11-25T08:00:00"}, {"up_to": 5}):
        reply = await notes.call("notifications", "POST", f"{path}/read", as_=me, json=body)
        assert reply.expect(400)["error"]["code"] == "validation_error", body
    bad_id = await notes.call("notifications", "GET", "/v1/users/01/notifications", as_=me)
    assert bad_id.status == 400
