"""Fault injection on the local stack and the probes that judge the outcome: the fast
outage tests in `make test` and the fault suite (`make chaos`) share them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.client import SERVICES, WeitaoClient
from shared.topics import DEAD_LETTERS
from tests.conftest import ROOT


def stack(action: str, name: str) -> None:
    """`localstack.py <action> <name>`: stop, start or kill a dependency or a service."""
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "localstack.py"), action, name], check=True
    )


async def stack_async(action: str, name: str) -> None:
    await asyncio.to_thread(stack, action, name)


async def dead_letters_written(bootstrap: str) -> int:
    """How many records the dead-letter topic holds (its end offsets, summed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        (topic,) = await admin.describe_topics([DEAD_LETTERS.name])
        parts = [TopicPartition(DEAD_LETTERS.name, p["partition"]) for p in topic["partitions"]]
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()
        await admin.close()


async def all_feed_ids(api: WeitaoClient, user_id: str, **params: str) -> list[str]:
    """Every post id of a user's feed, following the cursor to the last page."""
    ids: list[str] = []
    cursor = None
    while True:
        query = {"limit": "100", **params, **({"cursor": cursor} if cursor else {})}
        page = await api.feed(user_id, **query)
        ids.extend(item["post"]["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def all_ready(urls: dict[str, str]) -> bool:
    """Whether every service answers /readyz with 200."""
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for name in SERVICES:
            try:
                async with session.get(f"{urls[name]}/readyz") as reply:
                    if reply.status != 200:
                        return False
            except (aiohttp.ClientError, TimeoutError):
                return False
    return True


@dataclass
class Readiness:
    """What each service's /readyz answered, sampled twice a second: (time, status)."""

    started: float = field(default_factory=time.monotonic)
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def statuses(self, service: str, since: float = 0.0, until: float = 1e18) -> set[int]:
        return {s for t, s in self.samples.get(service, []) if since <= t <= until}

    def now(self) -> float:
        return time.monotonic() - self.started


@asynccontextmanager
async def watching_readiness(urls: dict[str, str]) -> AsyncIterator[Readiness]:
    """Samples every service's /readyz in the background (0: no answer)."""
    seen = Readiness()
    timeout = aiohttp.ClientTimeout(total=1)

    async def probe(session: aiohttp.ClientSession, name: str) -> None:
        while True:
            try:
                async with session.get(f"{urls[name]}/readyz") as reply:
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            seen.samples.setdefault(name, []).append((seen.now(), status))
            await asyncio.sleep(0.5)

    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = [asyncio.create_task(probe(session, name)) for name in SERVICES if name in urls]
        try:
            yield seen
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def rewind_group(bootstrap: str, group: str, topic_names: list[str]) -> None:
    """Commits offset 0 on every partition of `topic_names` for `group` (whose members
    must be stopped): the group replays the topics from the beginning when it returns."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(topic_names)
        parts = [
            TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
        ]
        consumer.assign(parts)
        await consumer.commit({tp: 0 for tp in parts})
    finally:
        await consumer.stop()
        await admin.close()
