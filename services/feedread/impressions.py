"""Feedread's server-side impressions: which posts each feed page actually served to
whom, sent to insights as one `feed.page_served` event a page (insights counts each item
as an impression; docs/insights.md).

A feed read only appends to an in-memory queue (`record`, no await, no Kafka round
trip); a background task (`run`) starts its own producer of raw envelopes and sends the
queue in batches. While Kafka is slow or away the queue holds at most MAX_PENDING pages;
past that the oldest are dropped and counted (impressions are statistics: a read must
never wait or fail for them).

One event a page, not one an item: a page's twenty impressions had cost feedread more
CPU than the rest of the read under an open-loop load (docs/benchmarks.md), and insights
twenty claims where one does."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry, Counter

from shared.events import FeedPageServed
from shared.kafka import start_with_retry
from shared.timeutil import from_epoch_ms, rfc3339

log = logging.getLogger(__name__)

MAX_PENDING = 20_000  # pages: ~5 s of a busy process's reads; bounds memory in an outage
FLUSH_INTERVAL_S = 0.2  # how long a page may wait to join a batch
MAX_BATCH = 500  # pages sent per flush
RETRY_S = 1.0  # pause after a failed flush (the batch is put back)


class Served(Protocol):
    """A served feed item (services.feedread.domain.HydratedEntry)."""

    @property
    def post(self) -> Mapping[str, Any]: ...


# A page waiting to be sent: (user id, served at in epoch ms, its items).
_Pending = tuple[str, int, list[list[str]]]


class ServedPages:
    """Queues served pages and sends them as `feed.page_served` events off the request
    path."""

    def __init__(
        self, producer: AIOKafkaProducer, registry: CollectorRegistry | None = None
    ) -> None:
        """`producer` sends bytes (`shared.kafka.producer`); `run` starts and stops it."""
        self.producer = producer
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._dropped = Counter(
            "served_pages_dropped", "Served pages dropped while Kafka lagged", registry=registry
        )
        self._sent = Counter("served_pages_sent", "Served pages sent", registry=registry)

    def record(self, user_id: int | str, items: Iterable[Served]) -> None:
        """Notes that `items` were served to `user_id` now, as one page; never blocks,
        never raises. An empty page served nothing and is not recorded."""
        served = [[item.post["account_id"], item.post["id"]] for item in items]
        if not served:
            return
        self._pending.append((str(user_id), int(time.time() * 1000), served))
        if len(self._pending) > MAX_PENDING:
            self._pending.popleft()
            self._dropped.inc()
        if len(self._pending) >= MAX_BATCH:
            self._wake.set()

    async def run(self) -> None:
        """Starts the producer, then sends the queue in batches until cancelled (run it
        as a background task); stops the producer on the way out."""
        await start_with_retry(self.producer, "feedread-served-pages")
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
                except TimeoutError:
                    pass
                self._wake.clear()
                while self._pending:
                    if not await self.flush():
                        await asyncio.sleep(RETRY_S)
                        break
        finally:
            await self.producer.stop()

    async def flush(self) -> bool:
        """Sends up to MAX_BATCH pages; False (and they are queued again) on failure."""
        batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
        try:
            await asyncio.gather(*await self._send_by_partition(batch))
        except KafkaError:
            log.warning("served pages not sent; retrying", exc_info=True)
            # Put back what may not have gone: a resend can count a page twice, which is
            # the lesser harm for a statistic than losing a batch.
            self._pending.extendleft(reversed(batch))
            return False
        self._sent.inc(len(batch))
        return True

    async def _send_by_partition(self, batch: list[_Pending]) -> list[Any]:
        """Sends `batch` as one record batch per partition (the partition the producer's
        default partitioner picks for the reader's key, as `send` would); returns the
        batches' delivery futures. Per-message `send` costs a future and a pure-Python
        hash per event."""
        topic = FeedPageServed.TOPIC.name
        partitions = tuple(sorted(await self.producer.partitions_for(topic)))
        builders: dict[int, Any] = {}
        futures = []
        # Random event ids, as uuid4().hex writes them, from one read of the OS's source.
        event_ids = os.urandom(16 * len(batch)).hex()
        for index, (user_id, at_ms, served) in enumerate(batch):
            at = _rfc3339_ms(at_ms)
            page = FeedPageServed(user_id=user_id, at=at, served=served)
            value = page.envelope(event_ids[32 * index : 32 * index + 32], at).encode()
            key = user_id.encode()
            partition = _partition_of(key, partitions)
            if partition not in builders:
                builders[partition] = self.producer.create_batch()
            builder = builders[partition]
            if builder.append(key=key, value=value, timestamp=None) is None:
                futures.append(await self.producer.send_batch(builder, topic, partition=partition))
                builder = builders[partition] = self.producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)
        for partition, builder in builders.items():
            futures.append(await self.producer.send_batch(builder, topic, partition=partition))
        return futures


@functools.lru_cache(maxsize=65536)
def _partition_of(key: bytes, partitions: tuple[int, ...]) -> int:
    """The partition aiokafka's default partitioner gives `key` (murmur2, as Java's)."""
    return _DEFAULT_PARTITIONER(key, list(partitions), list(partitions))


_DEFAULT_PARTITIONER = DefaultPartitioner()


@functools.lru_cache(maxsize=256)
def _rfc3339_ms(epoch_ms: int) -> str:
    """shared.timeutil's form of `epoch_ms`: the pages of a flush share a few milliseconds."""
    return rfc3339(from_epoch_ms(epoch_ms))
