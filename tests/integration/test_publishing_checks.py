"""Publishing's copy of an account lags accounts by design (it learns from Kafka), so a
suspended account's posts can be accepted before the suspension arrives. When it does
arrive, every post accepted from the suspension's time on is retracted like a delete.

The lag is simulated without stopping Kafka: the store accepts posts while publishing's
authors row still says active, then a suspension event made earlier goes through the
real consumer loop's handling, as a redelivery would, twice.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from services.publishing import consumer
from services.publishing.domain import PostNotFound
from services.publishing.new_post import NewPost
from services.publishing.service import PostService
from services.publishing.store import PostStore
from shared import db
from shared.events import AccountChanged, PostDeleted
from shared.ids import IdGenerator
from shared.kafka import ConsumerLoop
from shared.timeutil import rfc3339, utcnow
from tests.support import events_of_type, eventually, publish, seller


@dataclass(frozen=True)
class Delivered:
    """A consumed record as the loop sees it (aiokafka's ConsumerRecord has these)."""

    value: bytes
    key: bytes | None = None
    topic: str = "weitao.accounts.v1"
    partition: int = 0
    offset: int = 0


@pytest.fixture
async def store(stack) -> AsyncIterator[PostStore]:
    pool = await db.create_pool(stack.str("WEITAO_POSTGRES_DSN"), "publishing")
    try:
        yield PostStore(pool)
    finally:
        await pool.close()


def account_loop(stack, store: PostStore) -> ConsumerLoop:
    """Publishing's real consumer loop, driven by the test (no Kafka consumer started)."""
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    service = PostService(store, IdGenerator(worker=1002), 3, utcnow)
    handlers = consumer.handlers(service)
    return ConsumerLoop(bootstrap, consumer.GROUP, handlers, CollectorRegistry())


async def accept_while_lagging(store: PostStore, shop: dict, at: datetime) -> int:
    """A post the store accepts at `at` (publishing's authors row still says active)."""
    post_id = IdGenerator(worker=1002).next_id()
    new = msgspec.convert({"kind": "article", "title": "t", "body": secrets.token_hex(20)}, NewPost)
    await store.publish(post_id, int(shop["id"]), new, at, 3, None)
    return post_id


async def status_change(store: PostStore, shop: dict, status: str, version: int, at: datetime):
    """The account.changed record accounts would have sent for a change made at `at`."""
    event = AccountChanged(
        account_id=shop["id"],
        handle=shop["handle"],
        kind=shop["kind"],
        display_name=shop["display_name"],
        category=shop["category"],
        status=status,
        created_at=shop["created_at"],
        change="suspended" if status == "suspended" else "unsuspended",
        version=version,
        changed_at=rfc3339(at),
    )
    return Delivered(event.envelope().encode(), shop["id"].encode())


async def known_version(store: PostStore, shop: dict) -> int:
    return await store.pool.fetchval("SELECT version FROM authors WHERE id = $1", int(shop["id"]))


async def is_live(store: PostStore, post_id: int) -> bool:
    try:
        await store.post(post_id)
        return True
    except PostNotFound:
        return False


async def test_posts_accepted_after_a_suspension_publishing_had_not_read_are_retracted_once(
    api, stack, store
):
    shop = await seller(api)
    before = await publish(api, shop, "before the suspension")
    suspended_at = utcnow()
    lagging = await accept_while_lagging(store, shop, suspended_at + timedelta(milliseconds=1))
    version = await known_version(store, shop)
    suspension = await status_change(store, shop, "suspended", version + 1, suspended_at)

    loop = account_loop(stack, store)
    await loop.handle_all([suspension])
    first_deleted_at = await store.pool.fetchval(
        "SELECT deleted_at FROM posts WHERE id = $1", lagging
    )
    await loop.handle_all([suspension])  # redelivered

    assert not await is_live(store, lagging)
    assert await is_live(store, int(before["id"]))
    assert first_deleted_at is not None
    assert (
        await store.pool.fetchval("SELECT deleted_at FROM posts WHERE id = $1", lagging)
        == first_deleted_at
    )
    # A delete made after both deliveries leaves the outbox after anything they enqueued
    # (one relay, in order, one partition per account), so once it is on Kafka, every
    # retraction is too.
    async with store.writing() as tx:
        await tx.delete(int(before["id"]), utcnow())
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    deleted = await eventually(
        lambda: events_of_type(bootstrap, {shop["id"]}, PostDeleted),
        lambda events: before["id"] in {e.post_id for e in events},
        what="post.deleted events on Kafka",
    )
    assert sorted(e.post_id for e in deleted) == sorted([str(lagging), before["id"]])


async def test_a_suspension_lifted_in_the_same_batch_retracts_only_posts_made_while_it_lasted(
    api, stack, store
):
    shop = await seller(api)
    await publish(api, shop, "publishing knows this account")
    suspended_at = utcnow()
    lifted_at = suspended_at + timedelta(milliseconds=10)
    during = await accept_while_lagging(store, shop, suspended_at + timedelta(milliseconds=5))
    after = await accept_while_lagging(store, shop, lifted_at + timedelta(milliseconds=5))
    version = await known_version(store, shop)
    suspension = await status_change(store, shop, "suspended", version + 1, suspended_at)
    lifting = await status_change(store, shop, "active", version + 2, lifted_at)

    loop = account_loop(stack, store)
    await loop.handle_all([suspension, lifting])
    await loop.handle_all([suspension])  # an old suspension redelivered later

    assert not await is_live(store, during)
    assert await is_live(store, after)
    assert await known_version(store, shop) == version + 2
