"""`python -m services.insights.ingest_bench [events]`: how many engagement events per
second one insights consumer ingests (envelope-id claims, counters, one transaction a
batch) against a raw aiokafka consume of the same records, in the same run.

Both read one scratch topic of 12 partitions that nothing else reads; insights writes
into a scratch schema. Both are dropped afterwards."""

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
from shared.events import EngagementRecorded
from shared.kafka import ConsumerLoop, event_producer, start_with_retry
from shared.redis_cluster import connect
from shared.timeutil import rfc3339, utcnow

ACTIONS = ("impression", "impression", "impression", "view", "view", "click", "favorite")


class ScratchLoop(ConsumerLoop):
    """Insights' loop reading one scratch topic."""

    def __init__(self, topic: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scratch_topic = topic

    @property
    def topics(self) -> list[str]:
        return [self.scratch_topic]


async def produce(bootstrap: str, topic: str, events: int) -> None:
    rng = random.Random(1)
    producer = event_producer(bootstrap)
    await start_with_retry(producer, "ingest-bench")
    now = rfc3339(utcnow())
    try:
        for start in range(0, events, 1000):
            sends = []
            for _ in range(min(1000, events - start)):
                account = rng.randint(1, 200)
                event = EngagementRecorded(
                    action=rng.choice(ACTIONS),
                    user_id=str(rng.randint(1, 20_000)),
                    account_id=str(account),
                    post_id=str(account * 1000 + rng.randint(1, 30)),
                    at=now,
                    dwell_ms=rng.randint(500, 60_000) if rng.random() < 0.2 else None,
                )
                sends.append(await producer.send(topic, value=event, key=event.key()))
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


async def main(events: int) -> None:
    env = Env.from_os()
    bootstrap = env.str("WEITAO_KAFKA_BOOTSTRAP")
    topic = f"weitao.bench-insights-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])
    try:
        await produce(bootstrap, topic, events)
        raw = await raw_consume(bootstrap, topic, events)
        ingested = await insights_consume(env, topic, events)
        print(
            f"{events} engagement events: raw aiokafka consume {raw:,.0f}/s, "
            f"insights ingest {ingested:,.0f}/s, ratio {ingested / raw:.3f}"
        )
    finally:
        await admin.delete_topics([topic])
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m services.insights.ingest_bench")
    parser.add_argument("events", type=int, nargs="?", default=20_000, help="events to ingest")
    asyncio.run(main(parser.parse_args().events))
