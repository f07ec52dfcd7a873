"""Group-buy notifications over the whole stack: joins reach the operator grouped by post,
the outcome reaches the operator (a success) and each participant; a deleted post's
groups are no longer shown."""

from __future__ import annotations

from tests.e2e.test_group_buys import participant, terms
from tests.e2e.test_notifications_api import groups_of, interact, notes, settled
from tests.support import consumers, eventually, publish, seller

__all__ = ["notes"]  # the fixture, shared with test_notifications_api


async def test_a_full_buy_notifies_the_operator_of_joins_and_success_and_each_shopper(api, notes):
    shop = await seller(api, "tea_drinks")
    a, b, c = await consumers(api, 3)
    buy = await publish(api, shop, "团购", kind="group_buy", group_buy=terms(max_participants=2))
    for user, method in ((c, "PUT"), (c, "DELETE"), (a, "PUT"), (b, "PUT")):
        (await participant(api, buy["id"], user["id"], method)).expect(204)

    items = await settled(notes, shop["id"], {"group_buy_joined": 2, "group_buy_succeeded": 2})
    assert {g["post_id"] for g in items} == {buy["id"]}
    joined = next(g for g in items if g["kind"] == "group_buy_joined")
    assert {s["id"] for s in joined["sample_accounts"]} == {a["id"], b["id"]}
    for shopper in (a, b):
        [told] = await settled(notes, shopper["id"], {"group_buy_succeeded": 1})
        assert [s["id"] for s in told["sample_accounts"]] == [shop["id"]]
    assert (await groups_of(notes, c["id"]))["items"] == []  # left before it filled


async def test_a_deleted_posts_groups_are_no_longer_shown(api, notes):
    shop = await seller(api)
    [fan] = await consumers(api, 1)
    post = await publish(api, shop, "soon gone")
    await interact(api, "PUT", f"/v1/posts/{post['id']}/likes/{fan['id']}", fan["id"])
    await settled(notes, shop["id"], {"liked": 1})
    reply = await api.call(
        "publishing", "DELETE", f"/v1/posts/{post['id']}", as_=(shop["id"], "user")
    )
    assert reply.status == 204
    await eventually(
        lambda: groups_of(notes, shop["id"]),
        lambda page: page["items"] == [],
        what="the deleted post's likes out of sight",
    )
