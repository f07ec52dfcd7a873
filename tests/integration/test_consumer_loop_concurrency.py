"""The consumer loop with `partitions_at_once` (fanout's work group) on the real Kafka:
partitions are handled concurrently, yet each partition's events stay in order, every
event is handled, and what was handled is committed. It runs on a scratch topic of its
own, so no service sees its events."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

from prometheus_client import CollectorRegistry

from shared.events import FeedRebuildRequested
from tests.support import ScratchLoop, eventually, running, send_to

EVENTS_PER_USER = 15


async def test_partitions_run_concurrently_and_each_keeps_its_order(stack, scratch_topic):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    users = [str(900_000_000 + n) for n in range(6)]
    seen: dict[str, list[int]] = defaultdict(list)
    in_flight = 0
    most_at_once = 0

    async def handle(event: FeedRebuildRequested) -> None:
        nonlocal in_flight, most_at_once
        in_flight += 1
        most_at_once = max(most_at_once, in_flight)
        await asyncio.sleep(random.uniform(0.001, 0.02))
        seen[event.user_id].append(int(event.at))
        in_flight -= 1

    events = [
        FeedRebuildRequested(user_id=user, at=str(sequence))
        for sequence in range(EVENTS_PER_USER)
        for user in users
    ]
    partitions = await send_to(
        bootstrap, scratch_topic, [(e.key().encode(), e.envelope().encode()) for e in events]
    )

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
    async with running(loop) as all_committed:
        await eventually(
            lambda: asyncio.sleep(0, sum(len(s) for s in seen.values())),
            lambda handled: handled == len(events),
            timeout_s=60,
            what="every event handled",
        )
        await all_committed(partitions)

    assert {user: seen[user] for user in users} == {
        user: list(range(EVENTS_PER_USER)) for user in users
    }
    assert len(partitions) > 1 and most_at_once > 1  # the keys spread; handled side by side
