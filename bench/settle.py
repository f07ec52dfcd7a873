"""Waits until Weitao's consumer groups have taken in everything on their topics, so a
run starts on a settled world (a bulk import leaves hundreds of thousands of events)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from shared import topics

# The topics each group consumes now (a group keeps offsets of topics it once read).
GROUPS = {
    "publishing": (topics.ACCOUNTS,),
    "fanout": (topics.ACCOUNTS, topics.FOLLOWS, topics.POSTS),
    "fanout-work": (topics.FANOUT_WORK,),
    "fanout-rebuilds": (topics.FEED_REQUESTS,),
    "feedread": (topics.ACCOUNTS, topics.FOLLOWS, topics.POSTS),
}


async def lag(bootstrap: str) -> tuple[dict[str, int], int]:
    """Unconsumed records per consumer group (committed offsets vs. log ends), and the
    sum of the log ends (it grows while a relay still publishes an outbox)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await probe.start()
    try:
        result = {}
        written = 0
        for group, consumed in GROUPS.items():
            names = {t.name for t in consumed}
            committed = {
                tp: meta
                for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                if tp.topic in names
            }
            ends = await probe.end_offsets(list(committed)) if committed else {}
            result[group] = sum(max(0, ends[tp] - meta.offset) for tp, meta in committed.items())
            written += sum(ends.values())
        return result, written
    finally:
        await probe.stop()
        await admin.close()


async def settle(bootstrap: str, timeout_s: float = 600, say=print) -> float:
    """Returns the seconds it took for every group's lag to reach zero with nothing new
    written since the last look: lag 0 alone passes while the accounts and publishing
    relays are still draining their outboxes into Kafka."""
    started = time.monotonic()
    written_before = -1
    while True:
        current, written = await lag(bootstrap)
        if not any(current.values()) and written == written_before:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"consumers still behind after {timeout_s:.0f} s: {current}")
        if any(current.values()):
            say(f"waiting for consumers to take in the world: lag {current}")
        written_before = written
        await asyncio.sleep(2)
