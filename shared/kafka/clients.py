"""Kafka clients: the idempotent producer, starting a client while Kafka is away, and the
readiness probe."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.retry import Backoff, retry_forever

log = logging.getLogger(__name__)


def producer(bootstrap: str) -> AIOKafkaProducer:
    """An idempotent producer; call `await p.start()` (retrying while Kafka is away)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


async def kafka_reachable(bootstrap: str) -> None:
    """Readiness probe: opens a TCP connection to the first bootstrap broker."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.close()
    await writer.wait_closed()


async def start_with_retry(client: AIOKafkaProducer | AIOKafkaConsumer, what: str) -> None:
    """Starts a client, waiting for Kafka as long as it takes (a service may start first)."""
    await retry_forever(
        client.start,
        KafkaError,
        Backoff(first=0.2),
        lambda exc: log.warning(
            "kafka not reachable yet", extra={"client": what, "error": repr(exc)}
        ),
    )
