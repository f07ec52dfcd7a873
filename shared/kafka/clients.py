"""Kafka clients: the idempotent producers (of bytes, and of contracts with `send`),
starting a client while Kafka is away, and the readiness probe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.events import Contract
from shared.retry import Backoff, retry_forever

log = logging.getLogger(__name__)


def producer(bootstrap: str, **serializers: Callable[[Any], bytes]) -> AIOKafkaProducer:
    """An idempotent producer of bytes (relayed or replayed events); start it with
    `start_with_retry`. `serializers`: aiokafka's value_serializer and key_serializer."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
        **serializers,
    )


def event_producer(bootstrap: str) -> AIOKafkaProducer:
    """An idempotent producer of contracts: values are their envelopes, keys their text."""
    return producer(bootstrap, value_serializer=_envelope_bytes, key_serializer=str.encode)


def _envelope_bytes(contract: Contract) -> bytes:
    return contract.envelope().encode()


async def send(events: AIOKafkaProducer, contract: Contract) -> asyncio.Future[Any]:
    """Queues `contract` on its topic under its key (an `event_producer`); the returned
    future resolves once Kafka acknowledged it."""
    return await events.send(contract.TOPIC.name, value=contract, key=contract.key())


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
