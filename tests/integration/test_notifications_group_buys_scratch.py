"""Group-buy notifications on real Postgres (a scratch schema): joins grouped for the
operator, the outcome to each participant, and a deleted post's groups gone."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.notifications.domain import (
    Delivered,
    decision_of,
    effects_of_interaction,
)
from shared.events import (
    GroupBuyDecided,
    PostDeleted,
    PostInteraction,
)
from shared.timeutil import rfc3339
from tests.integration import notifications_scratch
from tests.integration.notifications_scratch import (
    OWNER,
    POST,
    T0,
    delivered,
    follow,
    groups,
    interaction,
    known,
)

schema = notifications_scratch.schema  # fixture


def joined(user: int, action: str = "group_buy_join") -> Delivered:
    event = PostInteraction(
        post_id=str(POST), account_id=str(OWNER), user_id=str(user), action=action, at=rfc3339(T0)
    )
    return Delivered(uuid.uuid4().hex, effects_of_interaction(event))


def decided(state: str, participants: int) -> Delivered:
    event = GroupBuyDecided(
        post_id=str(POST),
        account_id=str(OWNER),
        item_id="tea",
        state=state,
        participants=participants,
        min_participants=2,
        price_cents=9900,
        decided_at=rfc3339(T0 + timedelta(hours=1)),
    )
    return Delivered(uuid.uuid4().hex, [decision_of(event)])


async def test_joins_notify_the_operator_grouped_and_the_outcome_reaches_each_participant(
    schema,
):
    store, reader = schema
    await known(store, OWNER, 1, 2, 3)
    await store.apply([joined(1), joined(2), joined(3), joined(3, "group_buy_leave")])
    [group] = await groups(reader)
    assert (group["kind"], group["post_id"], group["count"]) == ("group_buy_joined", str(POST), 2)
    outcome = decided("succeeded", 2)
    await store.apply([outcome])
    await store.apply([outcome])  # redelivered: nothing more
    succeeded, joins = await groups(reader)
    assert (joins["kind"], joins["count"]) == ("group_buy_joined", 2)
    assert (succeeded["kind"], succeeded["count"]) == ("group_buy_succeeded", 2)
    assert {s["id"] for s in succeeded["sample_accounts"]} == {"1", "2"}
    for user in (1, 2):
        [told] = await reader.page(user, None, 10)
        assert (told["kind"], told["post_id"], told["count"]) == (
            "group_buy_succeeded",
            str(POST),
            1,
        )
        assert [s["id"] for s in told["sample_accounts"]] == [str(OWNER)]
    assert await reader.page(3, None, 10) == []  # left before the end


async def test_a_failed_buy_tells_its_participants_and_not_the_operator(schema):
    store, reader = schema
    await known(store, OWNER, 1)
    await store.apply([joined(1), decided("failed", 1)])
    [told] = await reader.page(1, None, 10)
    assert (told["kind"], told["count"]) == ("group_buy_failed", 1)
    assert [g["kind"] for g in await groups(reader)] == ["group_buy_joined"]


async def test_groups_about_a_deleted_post_are_no_longer_shown(schema):
    store, reader = schema
    await known(store, 1, 2)
    await store.apply(delivered(interaction("like", 1), follow(2, True, 1)))
    deleted = PostDeleted(
        post_id=str(POST), account_id=str(OWNER), category="tea_drinks", published_ms=0
    )
    await store.forget_posts([deleted])
    await store.forget_posts([deleted])
    await store.apply(delivered(interaction("like", 2)))  # an interaction still in flight
    assert [g["kind"] for g in await groups(reader)] == ["followed"]
    assert await reader.unread_count(OWNER) == 1
