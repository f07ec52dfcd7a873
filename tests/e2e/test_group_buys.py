"""Group buys (团购, API.md "publishing"): the post kind and its rules, joining and leaving
(exact under 500 concurrent joins, never past max_participants), and the one outcome at
the end or when full, shown on the post and published once as group_buy.decided."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import topics
from shared.events import Envelope, GroupBuyDecided, PostInteraction, decode
from tests.support import bulk_consumers, eventually, publish, seller


class InteractionsTail:
    """The interactions topic from where it ended when the test began (not from offset 0:
    the shared stack's topic is long), read back by key."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topics.INTERACTIONS.name,
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
        )
        self.start: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> InteractionsTail:
        await self.consumer.start()
        tps = sorted(self.consumer.assignment())  # no group: every partition
        self.start = await self.consumer.end_offsets(tps)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()

    async def events(self, key: str) -> list:
        """The contracts keyed by `key` published since the start, in order."""
        ends = await self.consumer.end_offsets(list(self.start))
        found = []
        for tp, offset in self.start.items():
            self.consumer.seek(tp, offset)
        while [tp for tp in self.start if await self.consumer.position(tp) < ends[tp]]:
            for records in (await self.consumer.getmany(timeout_ms=500)).values():
                found.extend(
                    decode(Envelope.decode(r.value)) for r in records if r.key == key.encode()
                )
        return found


def terms(seconds: float = 3600, **extra) -> dict:
    ends_at = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    return {
        "item_id": "tea-longjing-250g",
        "title": "明前龙井 250g",
        "price_cents": 9900,
        "original_price_cents": 15900,
        "min_participants": 2,
        "ends_at": ends_at,
        **extra,
    }


async def participant(api, post_id: str, user_id: str, method: str = "PUT"):
    return await api.call(
        "publishing",
        method,
        f"/v1/posts/{post_id}/group-buy/participants/{user_id}",
        as_=(user_id, "user"),
    )


async def served(api, post_id: str) -> dict:
    reply = await api.call("publishing", "GET", f"/v1/posts/{post_id}", as_=("gw", "service"))
    return reply.expect(200)["group_buy"]


async def test_a_group_buy_post_shows_its_terms_with_participants_and_state(api):
    shop = await seller(api, "tea_drinks")
    post = await publish(api, shop, "龙井团购", kind="group_buy", group_buy=terms())
    buy = post["group_buy"]
    assert buy["participants"] == 0 and buy["state"] == "open"
    assert buy["max_participants"] is None and buy["min_participants"] == 2
    page = (
        await api.call(
            "publishing", "GET", f"/v1/accounts/{shop['id']}/posts", as_=("gw", "service")
        )
    ).expect(200)
    assert page["items"][0]["group_buy"] == buy == await served(api, post["id"])


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (terms(price_cents=15900), "$.group_buy.price_cents"),
        (terms(seconds=-60), "$.group_buy.ends_at"),
        (terms(seconds=8 * 24 * 3600), "$.group_buy.ends_at"),
        (terms(min_participants=1), None),
        (terms(min_participants=10_001), None),
        (terms(min_participants=20, max_participants=10), "$.group_buy.max_participants"),
    ],
)
async def test_a_group_buy_breaking_a_rule_is_400_naming_the_field(api, bad, field):
    shop = await seller(api, "tea_drinks")
    body = {"kind": "group_buy", "title": "bad buy", "body": "", "group_buy": bad}
    reply = await api.publish_reply(shop["id"], body)
    assert reply.status == 400 and reply.body["error"]["code"] == "validation_error"
    if field:
        assert reply.body["error"]["details"]["field"] == field


async def test_group_buy_terms_belong_to_group_buy_posts_only(api):
    shop = await seller(api, "tea_drinks")
    body = {"kind": "article", "title": "sneaky", "body": "", "group_buy": terms()}
    reply = await api.publish_reply(shop["id"], body)
    assert reply.status == 400
    missing = await api.publish_reply(shop["id"], {"kind": "group_buy", "title": "x", "body": ""})
    assert missing.status == 400


async def test_five_hundred_concurrent_joins_count_exactly_and_joining_again_changes_nothing(api):
    shop = await seller(api, "tea_drinks")
    post = await publish(api, shop, "大团", kind="group_buy", group_buy=terms())
    users = await bulk_consumers(api, 500)
    replies = await asyncio.gather(*(participant(api, post["id"], u) for u in users))
    assert {r.status for r in replies} == {204}
    again = await asyncio.gather(*(participant(api, post["id"], u) for u in users[:20]))
    assert {r.status for r in again} == {204}
    assert (await served(api, post["id"]))["participants"] == 500
    leaves = [participant(api, post["id"], u, "DELETE") for u in users[:10] for _ in range(2)]
    assert {r.status for r in await asyncio.gather(*leaves)} == {204}
    buy = await served(api, post["id"])
    assert buy["participants"] == 490 and buy["state"] == "open"


async def test_a_full_buy_takes_exactly_max_participants_and_succeeds_once(api, stack):
    async with InteractionsTail(stack.str("WEITAO_KAFKA_BOOTSTRAP")) as tail:
        await a_full_buy_takes_exactly_max_participants(api, tail)


async def a_full_buy_takes_exactly_max_participants(api, tail: InteractionsTail) -> None:
    shop = await seller(api, "tea_drinks")
    post = await publish(
        api, shop, "限量团", kind="group_buy", group_buy=terms(max_participants=50)
    )
    users = await bulk_consumers(api, 200)
    replies = await asyncio.gather(*(participant(api, post["id"], u) for u in users))
    statuses = [r.status for r in replies]
    assert statuses.count(204) == 50
    assert {r.body["error"]["code"] for r in replies if r.status != 204} == {"group_buy_closed"}
    buy = await served(api, post["id"])
    assert buy["participants"] == 50 and buy["state"] == "succeeded"
    joined = next(u for u, r in zip(users, replies, strict=True) if r.status == 204)
    assert (await participant(api, post["id"], joined, "DELETE")).status == 409

    seen = await eventually(
        lambda: tail.events(post["id"]),
        lambda found: any(isinstance(e, GroupBuyDecided) for e in found),
        what="group_buy.decided",
    )
    decided = [e for e in seen if isinstance(e, GroupBuyDecided)]
    assert [(e.state, e.participants, e.item_id) for e in decided] == [
        ("succeeded", 50, "tea-longjing-250g")
    ]
    joins = [e for e in seen if isinstance(e, PostInteraction)]
    assert [e.action for e in joins] == ["group_buy_join"] * 50
    assert seen[-1] == decided[0]  # keyed by the post: the outcome comes after the joins


async def test_at_its_end_a_buy_succeeds_with_enough_participants_or_fails(api):
    shop = await seller(api, "tea_drinks")
    ends = datetime.now(UTC) + timedelta(seconds=2)
    enough = await publish(api, shop, "够人", kind="group_buy", group_buy=terms(2))
    short = await publish(api, shop, "不够", kind="group_buy", group_buy=terms(2))
    first, second, late = await bulk_consumers(api, 3)
    for user in (first, second):
        (await participant(api, enough["id"], user)).expect(204)
    (await participant(api, short["id"], first)).expect(204)

    async def states():
        return [(await served(api, p["id"]))["state"] for p in (enough, short)]

    assert await eventually(states, lambda s: "open" not in s, what="both decided") == [
        "succeeded",
        "failed",
    ]
    assert datetime.now(UTC) >= ends
    for method in ("PUT", "DELETE"):
        reply = await participant(api, short["id"], late if method == "PUT" else first, method)
        assert reply.status == 409 and reply.body["error"]["code"] == "group_buy_closed"


async def test_joining_a_post_that_is_not_a_group_buy_is_400_not_a_group_buy(api):
    shop = await seller(api, "tea_drinks")
    post = await publish(api, shop, "just words")
    [user] = await bulk_consumers(api, 1)
    reply = await participant(api, post["id"], user)
    assert reply.status == 400 and reply.body["error"]["code"] == "not_a_group_buy"
    assert (await participant(api, "12345", user)).status == 404
    assert post["group_buy"] is None
