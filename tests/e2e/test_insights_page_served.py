"""feed.page_served on the real stack: pages published to the engagement topic move an
account's and a post's impressions and reach, each item once; the same envelope sent
twice counts once; an engagement.recorded server impression from before pages counts."""

from __future__ import annotations

from shared import topics
from shared.events import SERVER_SOURCE, EngagementRecorded, FeedPageServed
from shared.timeutil import rfc3339, utcnow
from tests.support import consumers, eventually, publish, seller, send_to

SETTLE_S = 300.0  # insights may be catching up on the topics' history after a restart


async def test_served_pages_count_each_item_once_and_a_redelivered_page_once(api, stack):
    shop = await seller(api)
    first = await publish(api, shop, "served first")
    second = await publish(api, shop, "served second")
    c1, c2 = (f["id"] for f in await consumers(api, 2))
    a, p1, p2 = shop["id"], first["id"], second["id"]
    at = rfc3339(utcnow())
    page = FeedPageServed(c1, at, [[a, p1], [a, p2]]).envelope().encode()
    later_page = FeedPageServed(c1, at, [[a, p1]]).envelope().encode()
    legacy = EngagementRecorded("impression", c2, a, p1, at, source=SERVER_SOURCE)
    # c1's pages share a key, so its later page is handled after the redelivered one.
    await send_to(
        stack.str("WEITAO_KAFKA_BOOTSTRAP"),
        topics.ENGAGEMENT.name,
        [
            (c1.encode(), page),
            (c1.encode(), page),  # the same envelope again, as a redelivery brings it
            (c1.encode(), later_page),
            (a.encode(), legacy.envelope().encode()),
        ],
    )

    async def today() -> dict:
        reply = await api.call(
            "insights", "GET", f"/v1/accounts/{a}/stats", as_=(a, "user"), params={"days": "1"}
        )
        return reply.body["items"][0] if reply.status == 200 else {}

    # Both readers and c1's later page counted (reach 2 alone can come before it); a
    # redelivered page counted twice overshoots to 6, or to 5 before the later page.
    day = await eventually(
        today,
        lambda d: d.get("reach") == 2 and d.get("impressions", 0) >= 4,
        timeout_s=SETTLE_S,
        what="both readers and every page counted",
    )
    assert (day["impressions"], day["reach"]) == (4, 2)  # c1: 2 + 1 items, c2: 1

    async def post(post_id: str) -> dict:
        reply = await api.call("insights", "GET", f"/v1/posts/{post_id}/stats", as_=(a, "user"))
        return reply.body if reply.status == 200 else {}

    totals = await eventually(lambda: post(p1), lambda t: t.get("reach") == 2, timeout_s=SETTLE_S)
    assert (totals["impressions"], totals["reach"]) == (3, 2)
    assert {k: (await post(p2))[k] for k in ("impressions", "reach")} == {
        "impressions": 1,
        "reach": 1,
    }
