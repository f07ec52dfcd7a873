"""One operator's day, made through the real API, with the stats insights must derive
from it (tests/e2e/test_insights_stats.py checks the service, and
tests/integration/test_insights_replay.py replays the same events into an empty schema)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.timeutil import rfc3339, utcnow
from tests.support import consumers, eventually, feed_ids, publish, seller

GROUP_BUY_PRICE_CENTS = 1500
EXPECTED_DAY = {
    "followers_total": 3,
    "followers_gained": 4,
    "followers_gained_by_source": {"api": 3, "qr": 1, "recommendation": 0},
    "followers_lost": 1,
    "posts": 2,
    "impressions": 4,
    "reach": 3,
    "views": 4,
    "unique_visitors": 3,
    "revisit_rate": 0.0,
    "avg_dwell_ms": 2000,
    "clicks": 1,
    "favorites": 1,
    "purchases": 4,  # two orders, and the two participants of the succeeded group buy
    "gmv_cents": 8000 + 2 * GROUP_BUY_PRICE_CENTS,
    "conversion_rate": 1.0,  # c1, c2 and c4 paid, of 3 visitors
    "suspicious_followers": 0,
}
EXPECTED_POST = {
    "impressions": 4,
    "reach": 3,
    "views": 4,
    "clicks": 1,
    "purchases": 2,
    "gmv_cents": 8000,
    "likes": 1,
    "comments": 0,
    "votes": 0,
}


@dataclass(frozen=True)
class Day:
    shop: dict[str, Any]
    post: dict[str, Any]
    group_buy: dict[str, Any]
    fans: list[dict[str, Any]]


async def operator_day(api: Any) -> Day:
    """Four fans (three by API, one by QR; one leaves again), a post, feed pages that
        serve it (the impressions: c1 twice, c2 and c4 once), engagement with a reload, a
        client's own impression report (not counted), a repeated order, a like taken back, and
    a group buy c2 and c4 fill (c3 joined and left): its two participants are purchases."""
    shop = await seller(api)
    fans = await consumers(api, 4)
    c1, c2, c3, c4 = (f["id"] for f in fans)
    for fan in (c1, c2, c3):
        await api.follow(fan, shop["id"])
    token = (
        await api.call(
            "accounts", "GET", f"/v1/accounts/{shop['id']}/follow-token", as_=(shop["id"], "user")
        )
    ).expect(200)["token"]
    (
        await api.call("accounts", "POST", f"/v1/follow-tokens/{token}/redeem", as_=(c4, "user"))
    ).expect(204)
    await api.unfollow(c3, shop["id"])
    post = await publish(api, shop, "insights day")
    a, p = shop["id"], post["id"]

    def event(kind: str, user: str, **extra: Any) -> dict[str, Any]:
        return {"type": kind, "user_id": user, "account_id": a, "post_id": p, **extra}

    for fan in (c1, c2, c4, c1):  # each page that shows the post is one impression
        await eventually(
            lambda fan=fan: feed_ids(api, fan), lambda ids: p in ids, what="the post served"
        )
    events = [
        event("impression", c3),  # what a client says it showed: not counted
        event("view", c1, dwell_ms=1000),
        event("view", c1, dwell_ms=3000),  # a reload: a page view, same visitor
        event("view", c2),
        event("view", c4),
        event("dwell", c2, dwell_ms=2000),
        event("click", c1),
        event("favorite", c2),
        event("purchase", c1, order_id=f"o1-{p}", amount_cents=5000),
        event("purchase", c2, order_id=f"o2-{p}", amount_cents=3000),
    ]
    await send_events(api, events)
    terms = {
        "item_id": "tea-longjing-250g",
        "title": "明前龙井 250g",
        "price_cents": GROUP_BUY_PRICE_CENTS,
        "original_price_cents": 3000,
        "min_participants": 2,
        "max_participants": 2,  # full, and so decided, at the second participant
        "ends_at": rfc3339(utcnow() + timedelta(hours=1)),
    }
    await send_events(api, [event("purchase", c1, order_id=f"o1-{p}", amount_cents=5000)])
    for fan, method in ((c1, "PUT"), (c2, "PUT"), (c2, "DELETE")):
        (
            await api.call("publishing", method, f"/v1/posts/{p}/likes/{fan}", as_=(fan, "user"))
        ).expect(204)
    group_buy = await publish(api, shop, "insights group buy", kind="group_buy", group_buy=terms)
    for fan, method in ((c3, "PUT"), (c3, "DELETE"), (c2, "PUT"), (c4, "PUT")):
        path = f"/v1/posts/{group_buy['id']}/group-buy/participants/{fan}"
        (await api.call("publishing", method, path, as_=(fan, "user"))).expect(204)
    return Day(shop, post, group_buy, fans)


async def send_events(api: Any, events: list[dict[str, Any]]) -> None:
    reply = await api.call(
        "feedread", "POST", "/v1/events", as_=("gateway", "service"), json={"events": events}
    )
    reply.expect(202)
