"""The consumer loop with `partitions_at_once` (fanout's work group) on the real Kafka:
partitions are handled concurrently, yet each partition's events stay in order, every
event is handled, and what was handled is committed. It runs on a scratch topic of its
own, so no service sees its events."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from shared.events import FeedRebuildRequested
from shared.kafka import producer, start_with_retry
from tests.support import ScratchLoop, eventually

EVENTS_PER_USER = 15


async def test_partitions_run_concurrently_and_each_keeps_its_order(stack, scratch_topic):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    users = [str(900_000_000 + n) for n in range(6)]
    seen: dict[str, list[int]] = defaultdict(list)
    running = 0
    most_at_once = 0

    async def handle(event: FeedRebuildRequested) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(random.uniform(0.001, 0.02))
        seen[event.user_id].append(int(event.at))
        running -= 1

    sender = producer(bootstrap)
    await start_with_retry(sender, "test")
    partitions = set()
    try:
        for sequence in range(EVENTS_PER_USER):
            for user in users:
                event = FeedRebuildRequested(user_id=user, at=str(sequence))
                meta = await sender.send_and_wait(
                    scratch_topic, event.envelope().encode(), key=event.key().encode()
                )
                partitions.add(TopicPartition(meta.topic, meta.partition))
    finally:
        await sender.stop()

    group = f"{scratch_topic}-group"
    loop = ScratchLoop(
        bootstrap,
        group,
        {FeedRebuildRequested: handle},
        CollectorRegistry(),
        max_records=4,
        partitions_at_once=12,
        scratch_topic=scratch_topic,
    )
    task = asyncio.create_task(loop.run())
    check = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await check.start()
    try:
        await eventually(
            lambda: asyncio.sleep(0, sum(len(s) for s in seen.values())),
            lambda handled: handled == len(users) * EVENTS_PER_USER,
            timeout_s=60,
            what="every event handled",
        )
        ends = await check.end_offsets(list(partitions))

        async def committed() -> dict[TopicPartition, int | None]:
            return {tp: await check.committed(tp) for tp in partitions}

        await eventually(committed, lambda offsets: offsets == ends, what="all committed")
    finally:
        await check.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert {user: seen[user] for user in users} == {
        user: list(range(EVENTS_PER_USER)) for user in users
    }
    assert len(partitions) > 1 and most_at_once > 1  # the keys spread; handled side by side
