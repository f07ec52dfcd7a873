"""`python -m services.insights.ingest_bench [pages] [--per-item]`: how fast one insights
consumer ingests what feedread and clients send (envelope-id claims, counters, one
transaction a batch) against a raw aiokafka consume of the same records, in the same run.

The mix: `pages` served feed pages of PAGE_ITEMS items each, one `feed.page_served` a
page (or, with --per-item, one `engagement.recorded` server impression an item, as
feedread sent them before pages), and CLIENT_PER_PAGE client events per page. Both read
one scratch topic of 12 partitions that nothing else reads; insights writes into a
scratch schema. Both are dropped afterwards."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry

from services.insights import consumer
from services.insights.official import OfficialRanking
from services.insights.service import Ingest
from services.insights.store import IngestStore
from shared import db
from shared.config import Env
from shared.envelope import Contract
from shared.events import EngagementRecorded, FeedPageServed
from shared.kafka import ConsumerLoop, event_producer, start_with_retry
from shared.redis_cluster import connect
from shared.timeutil import rfc3339, utcnow

CLIENT_ACTIONS = ("view", "view", "view", "click", "favorite")
PAGE_ITEMS = 20  # feedread's default page
CLIENT_PER_PAGE = 2  # client events sent per page served
ACCOUNTS, POSTS_PER_ACCOUNT, USERS = 200, 30, 20_000


class ScratchLoop(ConsumerLoop):
    """Insights' loop reading one scratch topic."""

    def __init__(self, topic: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scratch_topic = topic

    @property
    def topics(self) -> list[str]:
        return [self.scratch_topic]


def workload(pages: int, per_item: bool) -> list[Contract]:
    """`pages` served pages (each one event, or one server impression an item) with
    CLIENT_PER_PAGE client events after each; the same pages and items either way."""
    rng = random.Random(1)
    now = rfc3339(utcnow())
    events: list[Contract] = []
    for _ in range(pages):
        user = str(rng.randint(1, USERS))
        served = [_item(rng) for _ in range(PAGE_ITEMS)]
        page = FeedPageServed(user_id=user, at=now, served=served)
        events += page.impressions() if per_item else [page]
        for _ in range(CLIENT_PER_PAGE):
            account, post = _item(rng)
            action = rng.choice(CLIENT_ACTIONS)
            dwell = rng.randint(500, 60_000) if action == "view" else None
            events.append(EngagementRecorded(action, user, account, post, now, dwell))
    return events


def _item(rng: random.Random) -> list[str]:
    """A random `[account_id, post_id]` of the bench's world."""
    account = rng.randint(1, ACCOUNTS)
    return [str(account), str(account * 1000 + rng.randint(1, POSTS_PER_ACCOUNT))]


async def produce(bootstrap: str, topic: str, events: list[Contract]) -> None:
    producer = event_producer(bootstrap)
    await start_with_retry(producer, "ingest-bench")
    try:
        for start in range(0, len(events), 1000):
            sends = [
                await producer.send(topic, value=event, key=event.key())
                for event in events[start : start + 1000]
            ]
            await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, events: int) -> float:
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await reader.start()
    started, seen = time.perf_counter(), 0
    try:
        while seen < events:
            for records in (await reader.getmany(timeout_ms=500, max_records=500)).values():
                seen += len(records)
        return events / (time.perf_counter() - started)
    finally:
        await reader.stop()


async def insights_consume(env: Env, topic: str, events: int) -> float:
    dsn = env.str("WEITAO_POSTGRES_DSN")
    schema = f"insights_bench_{uuid.uuid4().hex[:8]}"
    await db.migrate(dsn, schema, Path(consumer.__file__).parent / "migrations")
    pool = await db.create_pool(dsn, schema, max_size=consumer.PARTITIONS_AT_ONCE + 1)
    redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
    handlers = consumer.handlers(Ingest(IngestStore(pool), OfficialRanking(pool, redis, 3)))
    loop = ScratchLoop(
        topic,
        env.str("WEITAO_KAFKA_BOOTSTRAP"),
        f"insights-bench-{uuid.uuid4().hex[:8]}",
        handlers,
        CollectorRegistry(),
        partitions_at_once=consumer.PARTITIONS_AT_ONCE,
    )
    task = asyncio.create_task(loop.run())
    try:
        started = None
        while (count := await pool.fetchval("SELECT count(*) FROM seen_events")) < events:
            if count and started is None:
                started = time.perf_counter()
            await asyncio.sleep(0.05)
        return events / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()
        await redis.aclose()


async def main(pages: int, per_item: bool) -> None:
    env = Env.from_os()
    bootstrap = env.str("WEITAO_KAFKA_BOOTSTRAP")
    topic = f"weitao.bench-insights-{uuid.uuid4().hex[:8]}"
    events = workload(pages, per_item)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])
    try:
        await produce(bootstrap, topic, events)
        raw = await raw_consume(bootstrap, topic, len(events))
        ingested = await insights_consume(env, topic, len(events))
        impressions = ingested * pages * PAGE_ITEMS / len(events)
        shape = "per-item impressions" if per_item else "page events"
        print(
            f"{pages} pages of {PAGE_ITEMS} as {shape} + {pages * CLIENT_PER_PAGE} client "
            f"events = {len(events)} events: raw aiokafka consume {raw:,.0f}/s, insights "
            f"ingest {ingested:,.0f} events/s = {impressions:,.0f} served impressions/s, "
            f"ratio {ingested / raw:.3f}"
        )
    finally:
        await admin.delete_topics([topic])
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m services.insights.ingest_bench")
    parser.add_argument("pages", type=int, nargs="?", default=2_000, help="feed pages served")
    parser.add_argument(
        "--per-item",
        action="store_true",
        help="each served item as its own engagement.recorded (before feed.page_served)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.per_item))
