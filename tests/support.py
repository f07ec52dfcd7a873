"""Helpers for tests against the running stack: unique handles, accounts, polling."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench.client import WeitaoClient
from shared import db, topics
from shared.events import Contract, Envelope, decode
from shared.kafka import ConsumerLoop, producer, start_with_retry

T = TypeVar("T")
C = TypeVar("C", bound=Contract)
CONCURRENCY = 50  # parallel API calls when a test builds many accounts


def handle(prefix: str) -> str:
    """A handle no other test (or earlier run) uses: prefix + random suffix, ≤ 30 chars."""
    return f"{prefix[:17]}_{secrets.token_hex(6)}"


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    timeout_s: float = 10.0,
    what: str = "condition",
) -> T:
    """Polls `probe` until `accept` holds on its result; fails with the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s; last: {result!r}")
        await asyncio.sleep(0.05)


async def gather_limited(calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(run(c) for c in calls))


async def seller(
    api: WeitaoClient, category: str = "women_fashion", kind: str = "seller", **extra: Any
) -> dict[str, Any]:
    code = await api.create_invitation(max_uses=1, kinds=[kind])
    return await api.create_account(
        handle(kind), kind, category=category, invitation_code=code, **extra
    )


async def consumers(api: WeitaoClient, count: int) -> list[dict[str, Any]]:
    return await gather_limited([lambda: api.create_account(handle("fan")) for _ in range(count)])


async def feed_ids(api: WeitaoClient, user_id: str, **params: Any) -> list[str]:
    page = await api.feed(user_id, **params)
    return [item["post"]["id"] for item in page["items"]]


async def publish(
    api: WeitaoClient, account: dict[str, Any], title: str, body: str = "", **extra: Any
) -> dict[str, Any]:
    """Publishes a post whose text no earlier test run used: a run must never trip the
    copied-content rule against posts left by a previous run on the same stack."""
    return await api.publish(account["id"], title, f"{body} #{secrets.token_hex(12)}", **extra)


async def events_with_keys(bootstrap: str, keys: set[str]) -> list[ConsumerRecord]:
    """Every record of the topic table whose key is in `keys`, in partition order."""
    names = [t.name for t in topics.ALL_TOPICS]
    # No group: the consumer is assigned every partition and starts at the beginning.
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        parts = sorted(consumer.assignment())
        ends = await consumer.end_offsets(parts)
        found: list[ConsumerRecord] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(r for r in records if r.key and r.key.decode() in keys)
        return found
    finally:
        await consumer.stop()


async def events_of_type(bootstrap: str, keys: set[str], kind: type[C]) -> list[C]:
    """The `kind` events among the records keyed by one of `keys`, in partition order."""
    events = (decode(Envelope.decode(r.value)) for r in await events_with_keys(bootstrap, keys))
    return [e for e in events if isinstance(e, kind)]


@dataclass
class ScratchLoop(ConsumerLoop):
    """The real consumer loop, reading a scratch topic instead of its contracts' topics."""

    scratch_topic: str = ""

    @property
    def topics(self) -> list[str]:
        return [self.scratch_topic]


async def send_to(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]
) -> set[TopicPartition]:
    """Sends (key, value) records in order; returns the partitions they landed on."""
    sender = producer(bootstrap)
    await start_with_retry(sender, "test")
    try:
        landed = set()
        for key, value in records:
            meta = await sender.send_and_wait(topic, value, key=key)
            landed.add(TopicPartition(meta.topic, meta.partition))
        return landed
    finally:
        await sender.stop()


@asynccontextmanager
async def running(
    loop: ConsumerLoop,
) -> AsyncIterator[Callable[[set[TopicPartition]], Awaitable[None]]]:
    """Runs `loop` in the background. Yields a wait for its group to have committed
    everything on the given partitions."""
    task = asyncio.create_task(loop.run())
    check = AIOKafkaConsumer(bootstrap_servers=loop.bootstrap, group_id=loop.group)
    await check.start()

    async def all_committed(parts: set[TopicPartition]) -> None:
        ends = await check.end_offsets(list(parts))

        async def committed() -> dict[TopicPartition, int | None]:
            return {tp: await check.committed(tp) for tp in parts}

        await eventually(committed, lambda offsets: offsets == ends, what="all committed")

    try:
        yield all_committed
    finally:
        await check.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


BULK = 2000  # items per bulk call (the API's limit)


async def bulk_consumers(api: WeitaoClient, count: int) -> list[str]:
    """`count` new consumer ids, created through the staff bulk import."""
    ids: list[str] = []
    for start in range(0, count, BULK):
        batch = [
            {"handle": handle("bulk"), "kind": "consumer", "display_name": "买家"}
            for _ in range(min(BULK, count - start))
        ]
        reply = await api.call(
            "accounts",
            "POST",
            "/v1/admin/bulk/accounts",
            as_=("staff", "staff"),
            json={"accounts": batch},
        )
        ids.extend(a["id"] for a in reply.expect(201)["created"])
    return ids


async def bulk_follow(
    api: WeitaoClient, users: list[str], account_id: str, action: str = "follow"
) -> None:
    for start in range(0, len(users), BULK):
        pairs = [{"user_id": u, "account_id": account_id} for u in users[start : start + BULK]]
        reply = await api.call(
            "accounts",
            "POST",
            "/v1/admin/bulk/follows",
            as_=("staff", "staff"),
            json={"action": action, "pairs": pairs},
        )
        assert not reply.expect(200)["refused"]


async def fanout_stats(api: WeitaoClient) -> dict[str, Any]:
    reply = await api.call("fanout", "GET", "/v1/admin/stats", as_=("staff", "staff"))
    return reply.expect(200)


async def records_keyed(
    bootstrap: str, wanted: list[topics.Topic], keys: set[str]
) -> list[ConsumerRecord]:
    """The records of `wanted` topics keyed by one of `keys`, partition by partition from
    offset 0 (only the partitions those keys hash to are read)."""
    partitioner = DefaultPartitioner()
    metadata = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await metadata.start()
    try:
        parts = []
        for topic in wanted:
            every = sorted(await metadata.partitions_for(topic.name))
            hashed = {partitioner(k.encode(), every, every) for k in keys}
            parts.extend(TopicPartition(topic.name, p) for p in sorted(hashed))
    finally:
        await metadata.stop()
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        ends = await reader.end_offsets(parts)
        found: list[ConsumerRecord] = []
        while [tp for tp in parts if await reader.position(tp) < ends[tp]]:
            for records in (await reader.getmany(timeout_ms=500, max_records=5000)).values():
                found.extend(r for r in records if r.key and r.key.decode() in keys)
        return found
    finally:
        await reader.stop()


SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


@asynccontextmanager
async def scratch_schema(
    dsn: str, service: str, max_size: int = 2
) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A new schema with `service`'s migrations applied and a pool confined to it, so a
    test owns empty tables no service reads; dropped afterwards."""
    name = f"{service}_scratch_{uuid.uuid4().hex[:8]}"
    await db.migrate(dsn, name, SERVICES_DIR / service / "migrations")
    pool = await db.create_pool(dsn, name, max_size=max_size)
    try:
        yield name, pool
    finally:
        await pool.execute(f'DROP SCHEMA "{name}" CASCADE')
        await pool.close()
