"""Group buys in operator data: each participant of a succeeded buy is one purchase of
its price_cents, counted in the operator's purchases, gmv_cents and conversion and in
the post's totals (docs/insights.md "Group buys")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.insights_scenario import send_events
from tests.support import bulk_consumers, eventually, publish, seller

PRICE_CENTS = 9900


def terms() -> dict:
    return {
        "item_id": "tea-longjing-250g",
        "title": "明前龙井 250g",
        "price_cents": PRICE_CENTS,
        "original_price_cents": 15900,
        "min_participants": 2,
        "max_participants": 2,  # full, so decided, at the second participant
        "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }


async def participant(api, post_id: str, user_id: str, method: str = "PUT") -> None:
    path = f"/v1/posts/{post_id}/group-buy/participants/{user_id}"
    (await api.call("publishing", method, path, as_=(user_id, "user"))).expect(204)


async def test_the_participants_of_a_succeeded_buy_are_its_purchases(api):
    shop = await seller(api, "tea_drinks")
    post = await publish(api, shop, "龙井团购", kind="group_buy", group_buy=terms())
    left, first, second, onlooker = await bulk_consumers(api, 4)
    await participant(api, post["id"], left)
    await participant(api, post["id"], left, "DELETE")  # joined, then left: bought nothing
    await participant(api, post["id"], first)
    await participant(api, post["id"], second)  # the buy is full: it succeeds
    views = [
        {"type": "view", "user_id": u, "account_id": shop["id"], "post_id": post["id"]}
        for u in (left, first, second, onlooker)
    ]
    await send_events(api, views)

    def stats(path: str):
        return api.call("insights", "GET", path, as_=("gateway", "service"), params={"days": 1})

    day = await eventually(
        lambda: stats(f"/v1/accounts/{shop['id']}/stats"),
        lambda r: (
            r.status == 200
            and r.body["items"][0]["unique_visitors"] == 4
            and r.body["items"][0]["purchases"] > 0
        ),
        what="the buy's purchases in the operator's day",
    )
    row = day.body["items"][0]
    assert (row["purchases"], row["gmv_cents"]) == (2, 2 * PRICE_CENTS)
    assert row["conversion_rate"] == 0.5  # 2 paying buyers of 4 visitors
    totals = (await stats(f"/v1/posts/{post['id']}/stats")).expect(200)
    assert (totals["purchases"], totals["gmv_cents"]) == (2, 2 * PRICE_CENTS)
