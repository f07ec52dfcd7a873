"""Ceilings measured in the same run as the harness: what the raw parts do with the same
work and none of Weitao's code, so every headline figure has a ratio to compare."""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.client import WeitaoClient
from bench.fanout import Bench
from bench.world import World
from shared.config import Env

KAFKA_MESSAGES = 20_000
CEILING_TOPIC = "weitao.bench-ceiling"


async def kafka_rates(bootstrap: str) -> dict[str, float]:
    """Raw aiokafka produce and consume rates of 300-byte messages, acks=all."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if CEILING_TOPIC not in await admin.list_topics():
            await admin.create_topics([NewTopic(CEILING_TOPIC, 12, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    payload = secrets.token_bytes(300)
    started = time.perf_counter()
    try:
        sent = [
            await producer.send(CEILING_TOPIC, payload, key=str(i).encode())
            for i in range(KAFKA_MESSAGES)
        ]
        for delivery in sent:
            await delivery
        partitions = sorted(await producer.partitions_for(CEILING_TOPIC))
    finally:
        await producer.stop()
    produce = KAFKA_MESSAGES / (time.perf_counter() - started)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(CEILING_TOPIC, p) for p in partitions]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, max(0, ends[tp] - KAFKA_MESSAGES // len(parts)))
        started = time.perf_counter()
        got = 0
        while got < KAFKA_MESSAGES * 0.9:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            got += sum(len(r) for r in batches.values())
            if not batches:
                break
        consume = got / (time.perf_counter() - started)
    finally:
        await consumer.stop()
    return {"kafka_produce_per_s": produce, "kafka_consume_per_s": consume}


async def measure(api: WeitaoClient, env: Env, world: World) -> dict[str, Any]:
    bench = Bench(api, env)
    try:
        users = world.consumers
        # Reads are not here: a client in this process measures itself, not the server
        # (make bench-read measures feedread from outside).
        result: dict[str, Any] = {"redis_push_deliveries_per_s": await bench.ceiling_script(users)}
        result.update(await kafka_rates(env.str("WEITAO_KAFKA_BOOTSTRAP")))
        return result
    finally:
        await bench.redis.aclose()
