"""Publishing over HTTP, as API.md states it: kinds, quota, copies, interactions."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from shared.events import PostInteraction
from tests.support import consumers, events_of_type, eventually, gather_limited, publish, seller


def in_future(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def post_as(api, account, **body):
    return await api.publish_reply(account["id"], body)


async def get_post(api, post_id: str):
    return await api.call("publishing", "GET", f"/v1/posts/{post_id}", as_=("gw", "service"))


async def test_each_post_kind_is_published_with_its_attachment(api):
    shops = [await seller(api, "home") for _ in range(2)]
    kinds = [
        {"kind": "article", "images": ["https://img.example/a.jpg"] * 9},
        {
            "kind": "product",
            "products": [{"item_id": "item-1", "title": "竹编收纳篮", "price_cents": 5900}],
        },
        {
            "kind": "discount",
            "discount": {
                "price_cents": 4900,
                "original_price_cents": 6900,
                "ends_at": in_future(3600),
            },
        },
        {"kind": "vote", "vote": {"options": ["原木色", "胡桃色"], "closes_at": in_future(60)}},
        {"kind": "video", "video": {"url": "https://v.example/a.mp4", "duration_s": 42}},
    ]
    for index, extra in enumerate(kinds):
        shop = shops[index // 3]
        await publish(api, shop, f"{extra['kind']} post", **extra)
        stored = (
            await api.call(
                "publishing", "GET", f"/v1/accounts/{shop['id']}/posts", as_=("gw", "service")
            )
        ).expect(200)["items"][0]
        assert stored["kind"] == extra["kind"]
        assert stored["category"] == "home"  # the account's, by default
        assert stored["counters"] == {"likes": 0, "comments": 0, "votes": 0}
        for field in ("images", "products", "video"):
            if field in extra:
                assert stored[field] == extra[field]


async def test_the_fourth_post_of_a_day_is_429_with_limit_and_reset_time(api):
    shop = await seller(api)
    for used in (1, 2, 3):
        post = await publish(api, shop, f"post number {used}")
        assert post["quota"]["used"] == used and post["quota"]["limit"] == 3
    reply = await post_as(api, shop, kind="article", title="one too many", body="")
    assert reply.status == 429
    error = reply.body["error"]
    assert error["code"] == "daily_quota_exceeded"
    assert error["details"]["limit"] == 3
    assert error["details"]["resets_at"] == post["quota"]["resets_at"]
    assert error["details"]["resets_at"].endswith("T16:00:00.000Z")  # Shanghai midnight


async def test_concurrent_publishes_never_let_a_fourth_through(api):
    shop = await seller(api)
    await publish(api, shop, "warm up")  # publishing now knows the account
    replies = await asyncio.gather(
        *(
            post_as(api, shop, kind="article", title=f"race {i}", body=secrets.token_hex(16))
            for i in range(20)
        )
    )
    assert sorted(r.status for r in replies) == [201] * 2 + [429] * 18


def random_note(length: int = 60) -> str:
    """Chinese-looking text no other post has (tests may share one long-lived stack)."""
    return "".join(chr(0x4E00 + secrets.randbelow(0x5000)) for _ in range(length))


async def test_a_near_copy_of_another_accounts_post_is_409_naming_the_original(api):
    author, copier = await seller(api), await seller(api)
    note = random_note()
    original = await api.publish(author["id"], "冬季穿搭", note)
    near_copy = note[:20] + "显高" + note[22:40] + "暖和" + note[42:]  # 4 characters changed
    reply = await post_as(api, copier, kind="article", title="冬季穿搭！", body=near_copy)
    assert reply.status == 409
    assert reply.body["error"]["code"] == "duplicate_content"
    assert reply.body["error"]["details"]["original_post_id"] == original["id"]
    # Reposting one's own text is not plagiarism.
    again = await post_as(api, author, kind="article", title="冬季穿搭", body=note)
    assert again.status == 201


async def test_a_deleted_original_no_longer_blocks_the_text(api):
    author, other = await seller(api), await seller(api)
    text = random_note()
    original = await api.publish(author["id"], "冬季穿搭", text)
    await api.call(
        "publishing", "DELETE", f"/v1/posts/{original['id']}", as_=(author["id"], "user")
    )
    assert (await post_as(api, other, kind="article", title="冬季穿搭", body=text)).status == 201


async def test_only_the_owner_staff_or_a_service_may_delete_a_post(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    post = await publish(api, shop, "keep me")
    reply = await api.call(
        "publishing", "DELETE", f"/v1/posts/{post['id']}", as_=(fan["id"], "user")
    )
    assert reply.status == 403
    reply = await api.call(
        "publishing", "DELETE", f"/v1/posts/{post['id']}", as_=("admin", "staff")
    )
    assert reply.status == 204
    assert (await get_post(api, post["id"])).status == 404


async def test_consumers_cannot_publish(api):
    (fan,) = await consumers(api, 1)
    reply = await post_as(api, fan, kind="article", title="hello", body="")
    assert reply.status == 403 and reply.body["error"]["code"] == "not_an_operator"


async def test_comments_are_paged_oldest_first_and_deletable_by_author_or_post_owner(api):
    shop = await seller(api)
    alice, bob, eve = await consumers(api, 3)
    post = await publish(api, shop, "comment here")
    path = f"/v1/posts/{post['id']}/comments"
    written = []
    for who, text in ((alice, "好看！"), (bob, "求链接"), (alice, "已下单"), (bob, "同款")):
        reply = await api.call(
            "publishing", "POST", path, as_=(who["id"], "user"), json={"text": text}
        )
        written.append(reply.expect(201))
    first = (
        await api.call("publishing", "GET", path, as_=(eve["id"], "user"), params={"limit": 3})
    ).expect(200)
    rest = (
        await api.call(
            "publishing",
            "GET",
            path,
            as_=(eve["id"], "user"),
            params={"cursor": first["next_cursor"]},
        )
    ).expect(200)
    assert [c["text"] for c in first["items"] + rest["items"]] == [
        "好看！",
        "求链接",
        "已下单",
        "同款",
    ]
    assert rest["next_cursor"] is None

    denied = await api.call(
        "publishing", "DELETE", f"{path}/{written[0]['id']}", as_=(eve["id"], "user")
    )
    assert denied.status == 403
    for who, comment in ((alice, written[0]), (shop, written[1])):
        reply = await api.call(
            "publishing", "DELETE", f"{path}/{comment['id']}", as_=(who["id"], "user")
        )
        assert reply.status == 204
    assert (await get_post(api, post["id"])).expect(200)["counters"]["comments"] == 2
    empty = await api.call("publishing", "POST", path, as_=(alice["id"], "user"), json={"text": ""})
    assert empty.status == 400


async def test_concurrent_likes_count_exactly_and_repeats_change_nothing(api):
    shop = await seller(api)
    fans = await consumers(api, 40)
    post = await publish(api, shop, "like me")

    async def like(fan, method):
        reply = await api.call(
            "publishing",
            method,
            f"/v1/posts/{post['id']}/likes/{fan['id']}",
            as_=(fan["id"], "user"),
        )
        assert reply.status == 204

    await gather_limited([lambda f=f: like(f, "PUT") for f in fans * 2])
    assert (await get_post(api, post["id"])).expect(200)["counters"]["likes"] == 40
    await gather_limited([lambda f=f: like(f, "DELETE") for f in fans[:15] * 2])
    assert (await get_post(api, post["id"])).expect(200)["counters"]["likes"] == 25


async def test_one_vote_per_user_that_moves_and_closes(api, stack):
    shop = await seller(api)
    alice, bob = await consumers(api, 2)
    post = await publish(
        api,
        shop,
        "pick one",
        kind="vote",
        vote={"options": ["红茶", "绿茶", "白茶"], "closes_at": in_future(2.5)},
    )
    path = f"/v1/posts/{post['id']}/votes"
    for who, option in ((alice, "红茶"), (alice, 2), (bob, "绿茶")):
        reply = await api.call(
            "publishing",
            "PUT",
            f"{path}/{who['id']}",
            as_=(who["id"], "user"),
            json={"option": option},
        )
        assert reply.status == 204, reply.body
    assert (await get_post(api, post["id"])).expect(200)["counters"]["votes"] == 2
    bad = await api.call(
        "publishing", "PUT", f"{path}/{bob['id']}", as_=(bob["id"], "user"), json={"option": "咖啡"}
    )
    assert bad.status == 400 and bad.body["error"]["details"]["field"] == "$.option"

    await asyncio.sleep(2.6)
    closed = await api.call(
        "publishing", "PUT", f"{path}/{bob['id']}", as_=(bob["id"], "user"), json={"option": "红茶"}
    )
    assert closed.status == 409 and closed.body["error"]["code"] == "vote_closed"

    article = await publish(api, shop, "not a vote")
    reply = await api.call(
        "publishing",
        "PUT",
        f"/v1/posts/{article['id']}/votes/{bob['id']}",
        as_=(bob["id"], "user"),
        json={"option": 0},
    )
    assert reply.status == 400 and reply.body["error"]["code"] == "not_a_vote"

    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    events = await eventually(
        lambda: events_of_type(bootstrap, {post["id"]}, PostInteraction),
        lambda found: len(found) == 3,
        what="vote events",
    )
    assert [(e.user_id, e.action, e.option) for e in events] == [
        (alice["id"], "vote", 0),
        (alice["id"], "vote", 2),
        (bob["id"], "vote", 1),
    ]
