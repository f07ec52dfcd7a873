"""Insights over HTTP on the real stack: an operator's day of stats and a post's totals
from real events, days without activity as zeros, and who may read them."""

from __future__ import annotations

from datetime import date, timedelta

from shared.ids import IdGenerator
from tests.insights_scenario import EXPECTED_DAY, EXPECTED_POST, operator_day
from tests.support import eventually

# Insights may be catching up on the topics' history after a restart.
SETTLE_S = 300.0


async def stats(api, account_id: str, caller: tuple[str, str], **params):
    return await api.call(
        "insights", "GET", f"/v1/accounts/{account_id}/stats", as_=caller, params=params or None
    )


async def test_an_operators_day_of_stats_counts_every_event_once(api):
    day = await operator_day(api)
    shop = day.shop["id"]

    async def today():
        return (await stats(api, shop, (shop, "user"), days="1")).body

    body = await eventually(
        today,
        lambda b: (
            isinstance(b, dict)
            and b.get("items")
            and {k: b["items"][0][k] for k in EXPECTED_DAY} == EXPECTED_DAY
        ),
        timeout_s=SETTLE_S,
        what="the day's stats",
    )
    assert len(body["items"]) == 1
    post = await eventually(
        lambda: api.call(
            "insights", "GET", f"/v1/posts/{day.post['id']}/stats", as_=(shop, "user")
        ),
        lambda r: r.status == 200 and r.body == EXPECTED_POST,
        timeout_s=SETTLE_S,
        what="the post's stats",
    )
    assert post.body == EXPECTED_POST


async def test_days_without_activity_are_zeros_oldest_first(api):
    day = await operator_day(api)
    shop = day.shop["id"]
    reply = await eventually(
        lambda: stats(api, shop, ("staff", "staff"), days="5"),
        lambda r: r.status == 200 and r.body["items"][-1]["followers_total"] == 3,
        timeout_s=SETTLE_S,
    )
    items = reply.body["items"]
    dates = [date.fromisoformat(i["date"]) for i in items]
    assert dates == [dates[-1] - timedelta(days=n) for n in range(4, -1, -1)]
    for quiet in items[:-1]:
        assert quiet["views"] == 0 and quiet["followers_total"] == 0
        assert quiet["followers_gained_by_source"] == {"api": 0, "qr": 0, "recommendation": 0}


async def test_only_the_owner_staff_or_a_service_may_read_and_bad_input_is_a_4xx(api):
    day = await operator_day(api)
    shop, fan = day.shop["id"], day.fans[0]["id"]
    assert (await stats(api, shop, (fan, "user"))).status == 403
    assert (await stats(api, shop, ("gateway", "service"), days="7")).status in (200, 404)
    for bad in ("0", "91", "x", "07", ""):
        reply = await stats(api, shop, (shop, "user"), days=bad)
        assert reply.status == 400, bad
        assert reply.body["error"]["details"]["field"] == "days"
    reply = await api.call(
        "insights", "GET", f"/v1/posts/{day.post['id']}/stats", as_=(fan, "user")
    )
    assert reply.status in (403, 404)  # 404 only while the post's event is on its way


async def test_an_unknown_account_is_a_404(api):
    reply = await stats(api, "9123456789012345678", ("staff", "staff"))
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"


async def test_an_id_minted_a_moment_ago_but_unknown_is_503_not_ready(api):
    fresh = str(IdGenerator(worker=1004).next_id())  # names no account: none was made
    reply = await stats(api, fresh, ("staff", "staff"))
    assert reply.status == 503
    assert reply.body["error"]["code"] == "not_ready"
