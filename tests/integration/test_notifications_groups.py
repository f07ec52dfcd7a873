"""Notification groups on real Postgres (a scratch schema, the service's migrations and
store): exact counts under 200 concurrent likes, exactly once under redelivery and
replay, unlike/unfollow/uncomment taking actors out, 12-hour spans, and pages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.notifications.domain import AccountsNotKnown, Change
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


async def test_two_hundred_concurrent_likes_of_one_post_count_exactly(schema):
    store, reader = schema
    users = list(range(1000, 1200))
    await known(store, *users)
    likes = delivered(
        *(interaction("like", u, T0 + timedelta(seconds=i)) for i, u in enumerate(users))
    )
    await asyncio.gather(*(store.apply([d]) for d in likes))
    [group] = await groups(reader)
    assert (group["kind"], group["post_id"], group["count"]) == ("liked", str(POST), 200)
    assert [s["id"] for s in group["sample_accounts"]] == [str(u) for u in users[::-1][:8]]
    assert group["first_at"] == rfc3339(T0) and group["read"] is False


async def test_redelivered_and_replayed_events_change_nothing(schema):
    store, reader = schema
    await known(store, 1, 2, 3)
    batch = delivered(
        interaction("like", 1),
        interaction("like", 2),
        interaction("unlike", 1),
        interaction("comment", 3, comment_id="900"),
        interaction("comment", 3, comment_id="901"),
    )
    await store.apply(batch)
    first = await groups(reader)
    await store.apply(batch)  # redelivery of the whole batch
    await asyncio.gather(*(store.apply([d]) for d in reversed(batch)))  # replay, one by one
    assert await groups(reader) == first
    assert {g["kind"]: g["count"] for g in first} == {"liked": 1, "commented": 1}


async def test_an_unlike_takes_the_actor_out_and_a_relike_counts_once(schema):
    store, reader = schema
    await known(store, 1, 2)
    await store.apply(delivered(interaction("like", 1), interaction("like", 2)))
    await store.apply(delivered(interaction("unlike", 1)))
    assert [g["count"] for g in await groups(reader)] == [1]
    await store.apply(delivered(interaction("like", 1), interaction("like", 1)))
    [group] = await groups(reader)
    assert group["count"] == 2
    await store.apply(delivered(interaction("unlike", 1), interaction("unlike", 2)))
    assert await groups(reader) == []  # a group nobody is left in is not shown


async def test_an_unfollow_removes_the_follower_and_an_older_follow_replayed_does_not_undo_it(
    schema,
):
    store, reader = schema
    await known(store, 1, 2)
    await store.apply(delivered(follow(1, True, 1), follow(2, True, 1)))
    [group] = await groups(reader)
    assert (group["kind"], group["post_id"], group["count"]) == ("followed", None, 2)
    assert {s["source"] for s in group["sample_accounts"]} == {"qr"}
    await store.apply(delivered(follow(1, False, 2)))
    await store.apply(delivered(follow(1, True, 1)))  # re-emitted with a new envelope id
    assert [g["count"] for g in await groups(reader)] == [1]


async def test_a_deleted_comment_leaves_its_group_once_the_actors_last_comment_is_gone(schema):
    store, reader = schema
    await known(store, 3)
    await store.apply(delivered(*(interaction("comment", 3, comment_id=c) for c in ("1", "2"))))
    await store.apply(delivered(interaction("uncomment", 3, comment_id="1")))
    assert [g["count"] for g in await groups(reader)] == [1]
    await store.apply(delivered(interaction("uncomment", 3, comment_id="2")))
    assert await groups(reader) == []


async def test_a_group_spans_at_most_twelve_hours_then_a_new_one_starts(schema):
    store, reader = schema
    await known(store, 1, 2, 3)
    await store.apply(
        delivered(interaction("like", 1), interaction("like", 2, T0 + timedelta(hours=11)))
    )
    await store.apply(delivered(interaction("like", 3, T0 + timedelta(hours=12))))
    newest, oldest = await groups(reader)
    assert (newest["count"], newest["first_at"]) == (1, rfc3339(T0 + timedelta(hours=12)))
    assert (oldest["count"], oldest["last_at"]) == (2, rfc3339(T0 + timedelta(hours=11)))


async def test_pages_follow_last_activity_and_reading_marks_groups_read(schema):
    store, reader = schema
    users = list(range(21, 26))
    await known(store, *users)
    # Five groups: a follow group and four posts' like groups, an hour apart.
    posts = [POST + i for i in range(4)]
    changes = [follow(users[0], True, 1, T0)]
    for i, post in enumerate(posts):
        c = interaction("like", users[i + 1], T0 + timedelta(hours=i + 1))
        changes.append(Change(**{**c.__dict__, "post_id": post}))
    await store.apply(delivered(*changes))
    first = await reader.page(OWNER, None, 2)
    second = await reader.page(OWNER, first[-1]["position"], 2)
    third = await reader.page(OWNER, second[-1]["position"], 2)
    seen = [g["post_id"] for g in first + second + third]
    assert seen == [str(p) for p in reversed(posts)] + [None]
    await reader.mark_read(OWNER, T0 + timedelta(hours=2))
    assert await reader.unread_count(OWNER) == 2
    await reader.mark_read(OWNER, T0)  # a mark never moves back
    assert [g["read"] for g in await groups(reader)] == [False, False, True, True, True]


async def test_an_actor_whose_account_is_not_known_yet_is_waited_for_then_not_ready(schema):
    store, reader = schema
    await store.apply(delivered(interaction("like", 77)))
    late = asyncio.create_task(asyncio.sleep(0.3))
    late.add_done_callback(lambda _: asyncio.create_task(known(store, 77)))
    [group] = await groups(reader)  # waits for the account that arrives meanwhile
    assert group["sample_accounts"][0]["handle"] == "fan_77"
    await store.apply(delivered(interaction("like", 78)))
    with pytest.raises(AccountsNotKnown):
        await groups(reader)


async def test_event_ids_are_forgotten_only_once_older_than_kafka_keeps_events(schema):
    store, _ = schema
    old, fresh = delivered(interaction("like", 1)), delivered(interaction("like", 2))
    await store.apply(old + fresh)
    await store.pool.execute(
        "UPDATE seen_events SET seen_at = now() - interval '9 days' WHERE event_id = $1",
        old[0].event_id,
    )
    assert await store.store.forget_old_event_ids(timedelta(days=8)) == 1
    left = await store.pool.fetch("SELECT event_id FROM seen_events")
    assert [r["event_id"] for r in left] == [fresh[0].event_id]
