"""Exactly once in effect: the events of an operator's day, read back from Kafka and
replayed into an empty insights schema through the real handlers — once, then all again
in other batches as a redelivery would bring them — give the numbers the running
service shows, to the unit."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from services.insights import consumer
from services.insights.associated import Associated
from services.insights.domain import shanghai_day
from services.insights.official import OfficialRanking
from services.insights.service import Ingest, Reads
from services.insights.stats_store import StatsReader
from services.insights.store import IngestStore
from services.insights.suspicion import SuspicionDetector
from shared import topics
from shared.auth import Principal
from shared.kafka import ConsumerLoop
from shared.timeutil import utcnow
from tests.insights_scenario import EXPECTED_DAY, EXPECTED_POST, operator_day
from tests.support import eventually, records_keyed, scratch_schema

INSIGHTS_TOPICS = (
    topics.ENGAGEMENT,
    topics.FOLLOWS,
    topics.POSTS,
    topics.INTERACTIONS,
    topics.ACCOUNTS,
)
SERVICE = Principal("gateway", "service")
SETTLE_S = 300.0  # the running service may be catching up on history


@pytest.fixture
async def scratch_insights(stack) -> AsyncIterator:
    async with scratch_schema(stack.str("WEITAO_POSTGRES_DSN"), "insights") as (_, pool):
        yield pool


async def test_replaying_a_days_events_into_an_empty_schema_gives_the_same_numbers(
    api, stack, redis, scratch_insights
):
    day = await operator_day(api)
    shop, post = day.shop["id"], day.post["id"]
    live = await eventually(
        lambda: api.call(
            "insights", "GET", f"/v1/accounts/{shop}/stats", as_=(shop, "user"), params={"days": 1}
        ),
        lambda r: (
            r.status == 200 and {k: r.body["items"][0][k] for k in EXPECTED_DAY} == EXPECTED_DAY
        ),
        timeout_s=SETTLE_S,
        what="the running service's numbers",
    )
    keys = {shop, post, day.group_buy["id"], *(f["id"] for f in day.fans)}
    records = await records_keyed(stack.str("WEITAO_KAFKA_BOOTSTRAP"), list(INSIGHTS_TOPICS), keys)

    official = OfficialRanking(scratch_insights, redis, 3)
    handlers = consumer.handlers(Ingest(IngestStore(scratch_insights), official))
    loop = ConsumerLoop(
        stack.str("WEITAO_KAFKA_BOOTSTRAP"),
        "insights-replay-test",
        handlers,
        CollectorRegistry(),
    )
    await loop.handle_all(records)
    reads = Reads(
        StatsReader(scratch_insights),
        official,
        Associated(scratch_insights, redis),
        SuspicionDetector(scratch_insights),
    )
    today = shanghai_day(utcnow())
    once = await reads.account_stats(SERVICE, int(shop), 1, today)
    assert once == live.body["items"]
    assert await reads.post_stats(SERVICE, int(post)) == EXPECTED_POST

    # A redelivery brings everything again, in other runs: nothing moves.
    rng = random.Random(7)
    start = 0
    while start < len(records):
        size = rng.randint(1, 6)
        await loop.handle_all(records[start : start + size])
        start += size
    assert await reads.account_stats(SERVICE, int(shop), 1, today) == once
    assert await reads.post_stats(SERVICE, int(post)) == EXPECTED_POST


async def test_claims_older_than_kafka_keeps_events_are_forgotten(scratch_insights):
    await scratch_insights.execute(
        "INSERT INTO seen_events VALUES ('old', now() - interval '9 days'), ('new', now())"
    )
    store = IngestStore(scratch_insights)
    assert await store.forget_old_event_ids(timedelta(days=8)) == 1
    assert await scratch_insights.fetchval("SELECT array_agg(event_id) FROM seen_events") == ["new"]
