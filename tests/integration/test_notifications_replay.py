"""Exactly once in effect through the real consumer path: an operator's follows, likes,
unlikes and comments made through the API, read back from Kafka with their envelopes and
handled by the service's own loop and handlers into an empty schema — once, then all
again in other runs as a redelivery or a replay would bring them — give the same exact
counts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from services.notifications import consumer
from services.notifications.reads import NotificationReader
from services.notifications.service import NotificationService
from services.notifications.store import NotificationStore
from shared import topics
from shared.events import Envelope, FollowChanged, PostInteraction, decode
from shared.kafka import ConsumerLoop
from tests.support import consumers, eventually, publish, records_keyed, scratch_schema, seller


@pytest.fixture
async def scratch_store(stack) -> AsyncIterator[NotificationStore]:
    async with scratch_schema(stack.str("WEITAO_POSTGRES_DSN"), "notifications") as (_, pool):
        yield NotificationStore(pool)


async def counts(store: NotificationStore, recipient: str) -> dict[str, int]:
    rows = await store.pool.fetch(
        "SELECT kind, sum(actors) AS n FROM groups WHERE recipient_id = $1 AND actors > 0 "
        "GROUP BY kind",
        int(recipient),
    )
    return {r["kind"]: r["n"] for r in rows}


async def test_replayed_and_redelivered_events_give_the_same_exact_counts(
    api, stack, scratch_store
):
    shop = await seller(api)
    fans = await consumers(api, 5)
    post = await publish(api, shop, "replay me")
    likes = f"/v1/posts/{post['id']}/likes"
    for fan in fans:
        await api.follow(fan["id"], shop["id"])
        reply = await api.call("publishing", "PUT", f"{likes}/{fan['id']}", as_=(fan["id"], "user"))
        assert reply.status == 204
    await api.unfollow(fans[0]["id"], shop["id"])
    for method in ("DELETE", "PUT", "DELETE"):  # unlike, re-like, unlike again
        reply = await api.call(
            "publishing", method, f"{likes}/{fans[1]['id']}", as_=(fans[1]["id"], "user")
        )
        assert reply.status == 204
    comment = await api.call(
        "publishing",
        "POST",
        f"/v1/posts/{post['id']}/comments",
        as_=(fans[2]["id"], "user"),
        json={"text": "回放"},
    )
    assert comment.status == 201

    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    wanted = [topics.FOLLOWS, topics.INTERACTIONS]
    # follows: 5 + 1 unfollow; interactions: 5 likes + 3 + 1 comment
    records = await eventually(
        lambda: records_keyed(bootstrap, wanted, {shop["id"], post["id"]}),
        lambda found: len(found) == 15,
        timeout_s=30,
        what="the scenario's events on Kafka",
    )
    events = [decode(Envelope.decode(r.value)) for r in records]
    assert {type(e) for e in events} == {FollowChanged, PostInteraction}

    reads = NotificationReader(scratch_store.pool)
    handlers = consumer.NotificationHandlers(NotificationService(scratch_store, reads))
    loop = ConsumerLoop(
        bootstrap, "notifications-replay-test", handlers.table(), CollectorRegistry()
    )
    expected = {"followed": 4, "liked": 4, "commented": 1}
    await loop.handle_all(records)
    assert await counts(scratch_store, shop["id"]) == expected
    await loop.handle_all(records)  # a replay of everything
    for tail in (records[7:], records[-1:], records[3:9]):  # redeliveries of uncommitted tails
        await loop.handle_all(tail)
    for record in records:  # one event per run
        await loop.handle_all([record])
    assert await counts(scratch_store, shop["id"]) == expected
