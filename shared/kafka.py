"""Kafka I/O with explicit at-least-once semantics (aiokafka).

Producers are idempotent with acks=all. The consumer loop commits a partition's offset
only after every handler for the records before it has finished; a crash replays the
uncommitted tail, which every handler tolerates (they are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import CollectorRegistry, Counter

from shared.events import BadEvent, Contract, Envelope, decode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """Marks a handler that takes a list of consecutive events of its type at once."""

    fn: Callable[[list[Any]], Awaitable[None]]


EventHandler = Callable[[Any], Awaitable[None]] | Batch
MAX_HANDLER_ATTEMPTS = 8  # a handler that fails this often on one event is a bug, not an outage


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
    delay = 0.2
    while True:
        try:
            await client.start()
            return
        except KafkaError as exc:
            log.warning("kafka not reachable yet", extra={"client": what, "error": repr(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


_EVENT_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def _events_counter(registry: CollectorRegistry) -> Counter:
    """One counter per registry, shared by every consumer loop of a process."""
    if registry not in _EVENT_COUNTERS:
        _EVENT_COUNTERS[registry] = Counter(
            "consumer_events",
            "Events consumed",
            ["group", "type", "outcome"],
            registry=registry,
        )
    return _EVENT_COUNTERS[registry]


@dataclass
class ConsumerLoop:
    """Consumes `topics` as `group` and calls the handler registered for each contract type.

    Events of a type with no handler (or of a version this code does not know) are
    acknowledged and skipped: topics carry events for several consumers.

    With `partitions_at_once` > 1, that many partitions are handled concurrently, each
    still in order, in runs of up to `max_records`: for work items whose handlers wait on
    I/O, one item's database read overlaps another's Redis writes, and a finished run
    makes room for the next at once rather than when the slowest of its poll is done.
    """

    bootstrap: str
    group: str
    handlers: dict[type[Contract], EventHandler]
    registry: CollectorRegistry
    max_records: int = 500
    partitions_at_once: int = 1
    consumer: AIOKafkaConsumer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._events = _events_counter(self.registry)

    @property
    def topics(self) -> list[str]:
        return sorted({contract.TOPIC.name for contract in self.handlers})

    async def run(self) -> None:
        self.consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
        )
        await start_with_retry(self.consumer, self.group)
        try:
            if self.partitions_at_once > 1:
                await self._consume_concurrently(self.consumer)
            else:
                await self._consume_in_order(self.consumer)
        finally:
            await self.consumer.stop()

    async def _consume_in_order(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=self.max_records)
            for tp, records in batches.items():
                await self._handle_partition(tp, records)

    async def _consume_concurrently(self, consumer: AIOKafkaConsumer) -> None:
        """One run of records per partition at a time, which keeps each partition's order.
        Records wait in the consumer's own buffers; only partitions with nothing in
        flight are asked for their next run."""
        busy: dict[TopicPartition, asyncio.Task[None]] = {}

        def start(fetched: dict[TopicPartition, list[Any]]) -> None:
            for tp, records in fetched.items():
                busy[tp] = asyncio.create_task(self._handle_partition(tp, records))

        def idle() -> list[TopicPartition]:
            return [tp for tp in consumer.assignment() if tp not in busy]

        try:
            while True:
                # What is already fetched for idle partitions starts at once ...
                while len(busy) < self.partitions_at_once and idle():
                    fetched = await consumer.getmany(
                        *idle(), timeout_ms=0, max_records=self.max_records
                    )
                    if not fetched:
                        break
                    start(fetched)
                # ... then wait for a handler to finish or the next record to arrive.
                fetch = None
                if len(busy) < self.partitions_at_once and (idle() or not busy):
                    fetch = asyncio.create_task(
                        consumer.getmany(*idle(), timeout_ms=1000, max_records=self.max_records)
                    )
                waiting = [*busy.values(), *([fetch] if fetch else [])]
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if fetch in done:
                    start(fetch.result())
                elif fetch is not None:
                    fetch.cancel()  # nothing is taken from the buffers until it returns
                for tp, task in list(busy.items()):
                    if task.done():
                        del busy[tp]
                        task.result()  # a failure (not a handler's: those retry) stops the loop
        finally:
            for task in busy.values():
                task.cancel()

    async def _handle_partition(self, tp: TopicPartition, records: list[Any]) -> None:
        await self.handle_all(r.value for r in records)
        await self._commit(tp, records[-1].offset + 1)

    async def handle_all(self, raws: Iterable[bytes | None]) -> None:
        """Handles raw records in order, each to completion. Consecutive events of a type
        whose handler is a `Batch` reach it together (one transaction or pipeline for a
        run of follows, say); order across types is kept."""
        run: list[tuple[Envelope, Contract]] = []
        for raw in raws:
            item = self._decode(raw)
            if item is None:
                continue
            if run and type(run[0][1]) is not type(item[1]):
                await self._dispatch(run)
                run = []
            run.append(item)
        if run:
            await self._dispatch(run)

    async def handle_one(self, raw: bytes | None) -> None:
        await self.handle_all([raw])

    def _decode(self, raw: bytes | None) -> tuple[Envelope, Contract] | None:
        try:
            envelope = Envelope.decode(raw or b"")
            event = decode(envelope)
        except BadEvent as exc:
            log.error("skipping undecodable event", extra={"error": str(exc)})
            self._events.labels(self.group, "unknown", "undecodable").inc()
            return None
        if event is None or type(event) not in self.handlers:
            self._events.labels(self.group, envelope.type, "ignored").inc()
            return None
        return envelope, event

    async def _dispatch(self, run: list[tuple[Envelope, Contract]]) -> None:
        handler = self.handlers[type(run[0][1])]
        if isinstance(handler, Batch):
            events = [event for _, event in run]
            await self._call_with_retry(lambda: handler.fn(events), run[0][0], len(run))
        else:
            for envelope, event in run:
                await self._call_with_retry(lambda e=event: handler(e), envelope, 1)

    async def _call_with_retry(
        self, call: Callable[[], Awaitable[None]], envelope: Envelope, count: int
    ) -> None:
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            try:
                await call()
                self._events.labels(self.group, envelope.type, "handled").inc(count)
                return
            except (TimeoutError, OSError, ConnectionError) as exc:
                # An outage of Redis or Postgres: wait for it, never skip the event.
                log.warning(
                    "handler waiting for a dependency",
                    extra={"type": envelope.type, "error": repr(exc)},
                )
            except Exception:
                if attempt >= MAX_HANDLER_ATTEMPTS:
                    log.exception(
                        "handler failed; events skipped",
                        extra={
                            "type": envelope.type,
                            "event_id": envelope.event_id,
                            "count": count,
                        },
                    )
                    self._events.labels(self.group, envelope.type, "failed").inc(count)
                    return
                log.exception("handler failed; retrying", extra={"type": envelope.type})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        assert self.consumer is not None
        try:
            await self.consumer.commit({tp: offset})
        except CommitFailedError:
            # The partition moved to another member mid-batch; it replays from the last
            # committed offset, which the idempotent handlers absorb.
            log.info("commit lost to a rebalance", extra={"partition": str(tp)})

    async def lag(self) -> dict[str, int]:
        """Records not yet consumed, per assigned partition ("topic/partition": lag)."""
        if self.consumer is None:
            return {}
        result = {}
        for tp in sorted(self.consumer.assignment()):
            high = self.consumer.highwater(tp)
            position = await self.consumer.position(tp)
            result[f"{tp.topic}/{tp.partition}"] = max(0, (high or 0) - position)
        return result
