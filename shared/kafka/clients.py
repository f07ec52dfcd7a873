"""Kafka clients: the idempotent producer, starting a client while Kafka is away, the
readiness probe, and the capped backoff every wait in this package uses."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Delays doubling from `first` up to `cap` seconds."""

    first: float = 0.1
    cap: float = 5.0
    _next: float = field(init=False)

    def __post_init__(self) -> None:
        self._next = self.first

    async def sleep(self) -> None:
        await asyncio.sleep(self._next)
        self._next = min(self._next * 2, self.cap)


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
    backoff = Backoff(first=0.2)
    while True:
        try:
            await client.start()
            return
        except KafkaError as exc:
            log.warning("kafka not reachable yet", extra={"client": what, "error": repr(exc)})
            await backoff.sleep()
