"""Kafka I/O with explicit at-least-once semantics (aiokafka).

Producers are idempotent with acks=all. The consumer loop commits a partition's offset
only after every handler for the records before it has finished; a crash replays the
uncommitted tail, which every handler tolerates (they are idempotent). An event a handler
keeps failing on is moved to the dead-letter topic before its offset is committed, so
it is never simply dropped (`python -m shared.deadletters` lists and replays them).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import CollectorRegistry, Counter

from shared.events import BadEvent, Contract, Envelope, decode
from shared.topics import DEAD_LETTERS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """Marks a handler that takes a list of consecutive events of its type at once."""

    fn: Callable[[list[Any]], Awaitable[None]]


EventHandler = Callable[[Any], Awaitable[None]] | Batch
MAX_HANDLER_ATTEMPTS = 8  # a handler that fails this often on one event is a bug, not an outage
MAX_ERROR_CHARS = 2000


class Record(Protocol):
    """What the loop needs of a consumed record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """An event a consumer group gave up on. On the dead-letter topic the record's key is
    the group and its value the event's own bytes; where it came from rides in headers
    (a missing `key` header means the event had no key)."""

    group: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str

    @classmethod
    def of(cls, group: str, record: Record, error: str) -> DeadLetter:
        return cls(
            group,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            error[:MAX_ERROR_CHARS],
        )

    def headers(self) -> list[tuple[str, bytes]]:
        headers = [
            ("group", self.group.encode()),
            ("topic", self.topic.encode()),
            ("partition", str(self.partition).encode()),
            ("offset", str(self.offset).encode()),
            ("error", self.error.encode()),
        ]
        if self.key is not None:
            headers.append(("key", self.key))
        return headers

    @classmethod
    def from_record(cls, record: Any) -> DeadLetter:
        """Reads back a record of the dead-letter topic."""
        headers = dict(record.headers)
        return cls(
            headers["group"].decode(),
            headers["topic"].decode(),
            int(headers["partition"]),
            int(headers["offset"]),
            headers.get("key"),
            record.value,
            headers["error"].decode(),
        )


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
    max_attempts: int = MAX_HANDLER_ATTEMPTS
    consumer: AIOKafkaConsumer | None = field(default=None, init=False)
    dead_letters: AIOKafkaProducer | None = field(default=None, init=False)

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
        self.dead_letters = producer(self.bootstrap)
        await start_with_retry(self.dead_letters, f"{self.group} dead letters")
        await start_with_retry(self.consumer, self.group)
        try:
            if self.partitions_at_once > 1:
                await self._consume_concurrently(self.consumer)
            else:
                await self._consume_in_order(self.consumer)
        finally:
            await self.consumer.stop()
            await self.dead_letters.stop()

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
        await self.handle_all(records)
        await self._commit(tp, records[-1].offset + 1)

    async def handle_all(self, records: Iterable[Record]) -> None:
        """Handles records in order, each to completion. Consecutive events of a type
        whose handler is a `Batch` reach it together (one transaction or pipeline for a
        run of follows, say); order across types is kept."""
        run: list[tuple[Record, Envelope, Contract]] = []
        for record in records:
            try:
                envelope = Envelope.decode(record.value or b"")
                event = decode(envelope)
            except BadEvent as exc:
                if run:  # what came before is handled before this is set aside
                    await self._dispatch(run)
                    run = []
                log.error("undecodable event", extra={"error": str(exc)})
                self._events.labels(self.group, "unknown", "undecodable").inc()
                await self._dead_letter([record], f"undecodable: {exc}")
                continue
            if event is None or type(event) not in self.handlers:
                self._events.labels(self.group, envelope.type, "ignored").inc()
                continue
            if run and type(run[0][2]) is not type(event):
                await self._dispatch(run)
                run = []
            run.append((record, envelope, event))
        if run:
            await self._dispatch(run)

    async def _dispatch(self, run: list[tuple[Record, Envelope, Contract]]) -> None:
        handler = self.handlers[type(run[0][2])]
        if isinstance(handler, Batch):
            events = [event for _, _, event in run]
            records = [record for record, _, _ in run]
            await self._call_with_retry(lambda: handler.fn(events), run[0][1], records)
        else:
            for record, envelope, event in run:
                await self._call_with_retry(lambda e=event: handler(e), envelope, [record])

    async def _call_with_retry(
        self, call: Callable[[], Awaitable[None]], envelope: Envelope, records: list[Record]
    ) -> None:
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            try:
                await call()
                self._events.labels(self.group, envelope.type, "handled").inc(len(records))
                return
            except (TimeoutError, OSError, ConnectionError) as exc:
                # An outage of Redis or Postgres: wait for it, never skip the event.
                log.warning(
                    "handler waiting for a dependency",
                    extra={"type": envelope.type, "error": repr(exc)},
                )
            except Exception as exc:
                if attempt >= self.max_attempts:
                    log.exception(
                        "handler failed; events moved to the dead-letter topic",
                        extra={
                            "type": envelope.type,
                            "event_id": envelope.event_id,
                            "count": len(records),
                        },
                    )
                    await self._dead_letter(records, repr(exc))
                    self._events.labels(self.group, envelope.type, "dead_lettered").inc(
                        len(records)
                    )
                    return
                log.exception("handler failed; retrying", extra={"type": envelope.type})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _dead_letter(self, records: list[Record], error: str) -> None:
        """Keeps `records` on the dead-letter topic; waits for Kafka rather than lose them,
        since the caller commits past them next."""
        if self.dead_letters is None:
            raise RuntimeError(f"no dead-letter producer outside run(): {error}")
        for record in records:
            letter = DeadLetter.of(self.group, record, error)
            delay = 0.2
            while True:
                try:
                    await self.dead_letters.send_and_wait(
                        DEAD_LETTERS.name,
                        letter.value,
                        key=self.group.encode(),
                        headers=letter.headers(),
                    )
                    break
                except KafkaError as exc:
                    log.warning("dead-letter topic unreachable", extra={"error": repr(exc)})
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
