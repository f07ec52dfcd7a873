"""One operator's day, made through the real API, with the stats insights must derive
from it (tests/e2e/test_insights_stats.py checks the service, and
tests/integration/test_insights_replay.py replays the same events into an empty schema)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support import consumers, eventually, feed_ids, publish, seller

EXPECTED_DAY = {
    "followers_total": 3,
    "followers_gained": 4,
    "followers_gained_by_source": {"api": 3, "qr": 1, "recommendation": 0},
    "followers_lost": 1,
    "posts": 1,
    "impressions": 4,
    "reach": 3,
    "views": 4,
    "unique_visitors": 3,
    "revisit_rate": 0.0,
    "avg_dwell_ms": 2000,
    "clicks": 1,
    "favorites": 1,
    "purchases": 2,
    "gmv_cents": 8000,
    "conversion_rate": 0.666667,
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
    fans: list[dict[str, Any]]


async def operator_day(api: Any) -> Day:
    """Four fans (three by API, one by QR; one leaves again), a post, feed pages that
    serve it (the impressions: c1 twice, c2 and c4 once), engagement with a reload, a
    client's own impression report (not counted), a repeated order and a like taken back."""
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
    await send_events(api, [event("purchase", c1, order_id=f"o1-{p}", amount_cents=5000)])
    for fan, method in ((c1, "PUT"), (c2, "PUT"), (c2, "DELETE")):
        (
            await api.call("publishing", method, f"/v1/posts/{p}/likes/{fan}", as_=(fan, "user"))
        ).expect(204)
    return Day(shop, post, fans)


async def send_events(api: Any, events: list[dict[str, Any]]) -> None:
    reply = await api.call(
        "feedread", "POST", "/v1/events", as_=("gateway", "service"), json={"events": events}
    )
    reply.expect(202)
