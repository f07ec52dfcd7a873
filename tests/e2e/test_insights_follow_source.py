"""A follow may say it came from a recommendation list (`?source=recommendation` on the
follow), and insights counts it under followers_gained_by_source.recommendation; a
source the caller may not claim is a 400 naming the field."""

from __future__ import annotations

import pytest

from tests.support import consumers, eventually, seller


def follow(api, user: str, account: str, source: str | None):
    params = {"source": source} if source is not None else None
    return api.call(
        "accounts",
        "PUT",
        f"/v1/users/{user}/following/{account}",
        as_=(user, "user"),
        params=params,
    )


async def test_a_follow_from_a_recommendation_is_counted_as_such(api):
    shop = await seller(api)
    by_list, by_button, plain = (f["id"] for f in await consumers(api, 3))
    (await follow(api, by_list, shop["id"], "recommendation")).expect(204)
    (await follow(api, by_button, shop["id"], "api")).expect(204)
    (await follow(api, plain, shop["id"], None)).expect(204)
    reply = await eventually(
        lambda: api.call(
            "insights",
            "GET",
            f"/v1/accounts/{shop['id']}/stats",
            as_=(shop["id"], "user"),
            params={"days": 1},
        ),
        lambda r: r.status == 200 and r.body["items"][0]["followers_gained"] == 3,
        what="three follows counted",
    )
    by_source = reply.body["items"][0]["followers_gained_by_source"]
    assert by_source == {"api": 2, "qr": 0, "recommendation": 1}


@pytest.mark.parametrize("bad", ["qr", "ads", "", "Recommendation"])
async def test_a_source_the_caller_may_not_claim_is_a_400(api, bad):
    shop = await seller(api)
    [fan] = await consumers(api, 1)
    reply = await follow(api, fan["id"], shop["id"], bad)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "validation_error"
    assert reply.body["error"]["details"]["field"] == "source"
