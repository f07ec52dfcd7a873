"""Feedread's events to Kafka (services.feedread.ports.EventSender) on an event producer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.events import Contract
from shared.kafka import send

log = logging.getLogger(__name__)

SEND_DEADLINE_S = 10.0  # a batch not acknowledged by then is a 503 the caller retries


class KafkaEvents:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(self, contract: Contract) -> Any:
        """Queues one event; the returned future resolves once Kafka acknowledged it."""
        return await send(self.producer, contract)

    async def send_all(self, contracts: Sequence[Contract]) -> list[bool]:
        """Sends every event; for each, whether Kafka acknowledged it within the deadline
        (one not acknowledged may still arrive: the order id it carries lets insights tell)."""
        futures: list[asyncio.Future] = []
        try:
            for contract in contracts:
                futures.append(await send(self.producer, contract))
        except KafkaError:
            log.warning("engagement events not sent", exc_info=True)
        if futures:
            await asyncio.wait(futures, timeout=SEND_DEADLINE_S)
        acknowledged = [f.done() and not f.cancelled() and f.exception() is None for f in futures]
        return acknowledged + [False] * (len(contracts) - len(futures))
