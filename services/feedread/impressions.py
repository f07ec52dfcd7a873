"""Feedread's server-side impressions: which posts a feed page actually served to whom,
sent to insights as `engagement.recorded` impressions marked `source: server`.

A feed read only appends to an in-memory queue (`record`, no await, no Kafka round
trip); a background task (`run`) starts its own producer of raw envelopes (the events
carry a field their contract does not have yet) and sends the queue in batches. While
Kafka is slow or away the queue holds at most MAX_PENDING impressions; past that the
oldest are dropped and counted (impressions are statistics: a read must never wait or
fail for them).
Reach counts these, not what clients report (docs/insights.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import operator
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry, Counter

from shared.envelope import Envelope
from shared.events import SERVER_SOURCE, EngagementRecorded
from shared.kafka import start_with_retry

log = logging.getLogger(__name__)

MAX_PENDING = 100_000  # ~10 s of a busy process's served items; bounds memory in an outage
FLUSH_INTERVAL_S = 0.2  # how long an impression may wait to join a batch
MAX_BATCH = 1000  # impressions sent per flush
RETRY_S = 1.0  # pause after a failed flush (the batch is put back)


class Served(Protocol):
    """A served feed item (services.feedread.domain.HydratedEntry)."""

    @property
    def post(self) -> Mapping[str, Any]: ...


class ServedImpressions:
    """Batches served items into impression events off the request path."""

    def __init__(
        self, producer: AIOKafkaProducer, registry: CollectorRegistry | None = None
    ) -> None:
        """`producer` sends bytes (`shared.kafka.producer`); `run` starts and stops it."""
        self.producer = producer
        # (user id, account id, post id, served at in epoch ms): formatted when sent.
        self._pending: deque[tuple[str, str, str, int]] = deque()
        self._wake = asyncio.Event()
        self._dropped = Counter(
            "served_impressions_dropped",
            "Server-side impressions dropped while Kafka lagged",
            registry=registry,
        )
        self._sent = Counter(
            "served_impressions_sent", "Server-side impressions sent", registry=registry
        )

    def record(self, user_id: int | str, items: Iterable[Served]) -> None:
        """Notes that `items` were served to `user_id` now; never blocks, never raises."""
        at, user = int(time.time() * 1000), str(user_id)
        self._pending.extend((user, item.post["account_id"], item.post["id"], at) for item in items)
        overflow = len(self._pending) - MAX_PENDING
        for _ in range(max(0, overflow)):
            self._pending.popleft()
        if overflow > 0:
            self._dropped.inc(overflow)
        if len(self._pending) >= MAX_BATCH:
            self._wake.set()

    async def run(self) -> None:
        """Starts the producer, then sends the queue in batches until cancelled (run it
        as a background task); stops the producer on the way out."""
        await start_with_retry(self.producer, "feedread-impressions")
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
        """Sends up to MAX_BATCH impressions; False (and they are queued again) on failure."""
        batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
        try:
            await asyncio.gather(*await self._send_by_partition(batch))
        except KafkaError:
            log.warning("server impressions not sent; retrying", exc_info=True)
            # Put back what may not have gone: a resend can count an impression twice,
            # which is the lesser harm for a statistic than losing a batch.
            self._pending.extendleft(reversed(batch))
            return False
        self._sent.inc(len(batch))
        return True

    async def _send_by_partition(self, batch: list[tuple[str, str, str, int]]) -> list[Any]:
        """Sends `batch` as one record batch per partition (the partition the producer's
        default partitioner picks for the account key, as `send` would); returns the
        batches' delivery futures. Per-message `send` costs a future and a pure-Python
        hash per impression."""
        topic = EngagementRecorded.TOPIC.name
        partitions = tuple(sorted(await self.producer.partitions_for(topic)))
        builders: dict[int, Any] = {}
        futures = []
        # Random event ids, as uuid4().hex writes them, from one read of the OS's source.
        event_ids = os.urandom(16 * len(batch)).hex()
        for index, entry in enumerate(batch):
            key = entry[1].encode()
            partition = _partition_of(key, partitions)
            value = _encoded(event_ids[32 * index : 32 * index + 32], *entry)
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


# A served impression's payload, derived once from its contract; each fills in its ids
# and time. Many go out per page: this skips the contract's per-event deep copy
# (Contract.envelope's dataclasses.asdict) and clock reading.
_PAYLOAD = dataclasses.asdict(
    EngagementRecorded(
        action="impression", user_id="", account_id="", post_id=None, at="", source=SERVER_SOURCE
    )
)


@functools.lru_cache(maxsize=256)
def _rfc3339_ms(epoch_ms: int) -> str:
    """`2026-11-25T04:05:06.789Z`, as shared.timeutil.rfc3339 writes it: the impressions of
    a page share their millisecond, and those of a flush a few."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000))
    return f"{seconds}.{epoch_ms % 1000:03d}Z"


def _envelope(event_id: str, user_id: str, account_id: str, post_id: str, at: str) -> bytes:
    """The impression's envelope, as EngagementRecorded(...).envelope() would encode it."""
    ids = {"user_id": user_id, "account_id": account_id, "post_id": post_id, "at": at}
    envelope = Envelope(
        event_id=event_id,
        type=EngagementRecorded.TYPE,
        version=EngagementRecorded.VERSION,
        occurred_at=at,
        key=account_id,
        payload=_PAYLOAD | ids,
    )
    return envelope.encode()


# The envelope _envelope writes, as a %-template: one encoding with a marker per value,
# each marker made a `%s`. Filling it costs under half of an encoding.
_MARKS = ("\x01e", "\x01u", "\x01a", "\x01p", "\x01t")
_MARK = re.compile(r"\\u0001([euapt])")  # a marker as JSON writes it
_SAMPLE = _envelope(*_MARKS).decode()
_TEMPLATE = _MARK.sub("%s", _SAMPLE.replace("%", "%%"))
_IN_ORDER = operator.itemgetter(*("euapt".index(name) for name in _MARK.findall(_SAMPLE)))


def _encoded(event_id: str, user_id: str, account_id: str, post_id: str, at_ms: int) -> bytes:
    """The impression's envelope (_envelope's bytes). Ids of digits and a hex event id
    need no escaping in JSON; anything else is encoded in full."""
    values = (event_id, user_id, account_id, post_id, _rfc3339_ms(at_ms))
    if not (user_id.isdigit() and account_id.isdigit() and post_id.isdigit()):
        return _envelope(*values)
    return (_TEMPLATE % _IN_ORDER(values)).encode()
