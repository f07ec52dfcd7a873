"""Official and associated recommendations and flagged followers, over HTTP on the real
stack, from real events."""

from __future__ import annotations

import asyncio

from tests.insights_scenario import send_events
from tests.support import bulk_consumers, bulk_follow, consumers, eventually, seller

SETTLE_S = 300.0  # insights may be catching up on history; Swing refreshes every 60 s
CATEGORY = "tea_drinks"  # a category few tests use: both candidates fit in one page


async def official(api, caller, **params):
    reply = await api.call(
        "insights", "GET", "/v1/recommendations/official", as_=caller, params=params
    )
    return reply.expect(200)["items"]


def ids(items):
    return [i["account"]["id"] for i in items]


async def test_official_list_ranks_by_shrunk_activity_and_leaves_out_followed_and_suspended(
    api,
):
    strong, weak = await seller(api, CATEGORY), await seller(api, CATEGORY)
    fans = await consumers(api, 10)
    events = []
    for n, fan in enumerate(fans):
        for _ in range(2):
            events.append(
                {"type": "view", "user_id": fan["id"], "account_id": strong["id"], "dwell_ms": 4000}
            )
        if n % 2 == 0:
            events.append(
                {
                    "type": "purchase",
                    "user_id": fan["id"],
                    "account_id": strong["id"],
                    "order_id": f"tea-{strong['id']}-{n}",
                    "amount_cents": 1999,
                }
            )
    events.append({"type": "view", "user_id": fans[0]["id"], "account_id": weak["id"]})
    await send_events(api, events)

    def ranked(items):
        order = ids(items)
        return (
            strong["id"] in order
            and weak["id"] in order
            and order.index(strong["id"]) < order.index(weak["id"])
        )

    items = await eventually(
        lambda: official(api, ("gateway", "service"), category=CATEGORY, limit="100"),
        ranked,
        timeout_s=SETTLE_S,
        what="strong ranked above weak",
    )
    best = next(i for i in items if i["account"]["id"] == strong["id"])
    assert set(best["components"]) == {
        "revisit_rate",
        "avg_dwell_ms",
        "views_per_visitor",
        "conversion_rate",
    }
    conversion = best["components"]["conversion_rate"]
    assert conversion["raw"] == 0.5 and 0 < conversion["shrunk"] <= 0.5
    assert set(conversion) == {"raw", "shrunk", "percentile", "weight"}
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)

    reader = fans[1]["id"]
    await api.follow(reader, strong["id"])
    await eventually(
        lambda: official(api, (reader, "user"), category=CATEGORY, limit="100"),
        lambda items: strong["id"] not in ids(items) and weak["id"] in ids(items),
        timeout_s=SETTLE_S,
        what="a followed account left out for its follower",
    )
    (
        await api.call("accounts", "POST", f"/v1/accounts/{weak['id']}/suspend", as_=("s", "staff"))
    ).expect(204)
    await eventually(
        lambda: official(api, ("gateway", "service"), category=CATEGORY, limit="100"),
        lambda items: weak["id"] not in ids(items),
        timeout_s=SETTLE_S,
        what="a suspended account gone",
    )


async def test_official_list_refuses_bad_input(api):
    for params in ({"category": "cars"}, {"limit": "0"}, {"limit": "101"}):
        reply = await api.call(
            "insights", "GET", "/v1/recommendations/official", as_=("g", "service"), params=params
        )
        assert reply.status == 400, params


async def test_associated_list_relates_sellers_by_swing_and_by_co_follows(api):
    liked, related, followed, co_followed = [await seller(api) for _ in range(4)]
    # Two separate crowds, so each path is the only one to its account: fans of `liked`
    # also favour `related`; followers of `followed` also follow `co_followed`.
    crowd = await consumers(api, 7)
    user, others, followers = crowd[0], crowd[1:4], crowd[4:]
    events = [
        {"type": "favorite", "user_id": user["id"], "account_id": liked["id"]},
        *(
            {"type": "favorite", "user_id": o["id"], "account_id": shop["id"]}
            for o in others
            for shop in (liked, related)
        ),
    ]
    await send_events(api, events)
    await api.follow(user["id"], followed["id"])
    for o in followers:
        await api.follow(o["id"], followed["id"])
        await api.follow(o["id"], co_followed["id"])

    async def recommendations():
        reply = await api.call(
            "insights",
            "GET",
            f"/v1/users/{user['id']}/recommendations",
            as_=(user["id"], "user"),
        )
        return reply.expect(200)["items"]

    items = await eventually(
        recommendations,
        lambda items: {related["id"], co_followed["id"]} <= set(ids(items)),
        timeout_s=SETTLE_S,
        what="related and co-followed sellers",
    )
    reasons = {i["account"]["id"]: (i["because"], i["related_to"]) for i in items}
    assert reasons[related["id"]] == ("favorite", liked["id"])
    assert reasons[co_followed["id"]] == ("co_follow", followed["id"])
    assert followed["id"] not in reasons
    other = others[0]["id"]
    reply = await api.call(
        "insights", "GET", f"/v1/users/{user['id']}/recommendations", as_=(other, "user")
    )
    assert reply.status == 403


async def test_a_bought_burst_is_flagged_with_evidence_and_counted_per_day(api):
    """30 fresh accounts follow a shop within seconds (each by its own PUT, as a farm's
    would): flagged. The same shop's 30 followers brought in by a staff bulk import at
    the same moment are not: an import carries no follow time to judge."""
    shop = await seller(api)
    imported, bought = await bulk_consumers(api, 30), await bulk_consumers(api, 30)
    await bulk_follow(api, imported, shop["id"])
    await asyncio.gather(*(api.follow(user, shop["id"]) for user in bought))

    async def flagged():
        reply = await api.call(
            "insights",
            "GET",
            "/v1/admin/suspicious",
            as_=("staff", "staff"),
            params={"account_id": shop["id"], "limit": "100"},
        )
        return reply.expect(200)["items"]

    items = await eventually(
        flagged,
        lambda items: set(bought) <= {i["user_id"] for i in items},
        timeout_s=SETTLE_S,
        what="the 30 bought followers flagged",
    )
    assert {i["user_id"] for i in items} == set(bought)
    evidence = items[0]["evidence"]
    assert evidence["rule"] == "fresh_burst" and evidence["burst_size"] == 30
    assert evidence["active_before"] is False
    day = await api.call(
        "insights",
        "GET",
        f"/v1/accounts/{shop['id']}/stats",
        as_=(shop["id"], "user"),
        params={"days": "1"},
    )
    assert day.expect(200)["items"][0]["suspicious_followers"] == 30
    reply = await api.call("insights", "GET", "/v1/admin/suspicious", as_=(shop["id"], "user"))
    assert reply.status == 403
