"""Feedread's served pages: recorded without awaiting Kafka, sent in batches as one
feed.page_served event a page (insights counts its items as impressions), kept through a
Kafka error, bounded while Kafka is away."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner

from services.feedread import impressions
from services.feedread.impressions import ServedPages
from shared.events import Envelope, FeedPageServed, decode
from shared.timeutil import from_epoch_ms, rfc3339


@dataclass
class Item:
    post: dict[str, Any]


class FakeBatch:
    """aiokafka's BatchBuilder: appends until `room` records, then says it is full."""

    def __init__(self, room: int) -> None:
        self.records: list[tuple[bytes, bytes]] = []
        self.room = room

    def append(self, *, key: bytes, value: bytes, timestamp: float | None) -> object | None:
        if len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()


class FakeProducer:
    """What ServedPages uses of AIOKafkaProducer: record batches per partition."""

    def __init__(self, failures: int = 0, partitions: int = 3, batch_room: int = 1000) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.partition_of_key: dict[bytes, set[int]] = {}
        self.failures = failures
        self.partitions = partitions
        self.batch_room = batch_room
        self.running = False

    async def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_room)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError()
        for key, value in batch.records:
            self.sent.append((topic, value, key))
            self.partition_of_key.setdefault(key, set()).add(partition)
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def items(n: int, account: str = "42") -> list[Item]:
    return [Item({"id": str(1000 + i), "account_id": account}) for i in range(n)]


def pages(producer: FakeProducer) -> list[FeedPageServed]:
    decoded = [decode(Envelope.decode(value)) for _, value, _ in producer.sent]
    assert all(isinstance(page, FeedPageServed) for page in decoded)
    return decoded  # type: ignore[return-value]


async def test_a_served_page_becomes_one_event_keyed_by_its_reader_with_items_in_order():
    producer = FakeProducer()
    served = ServedPages(producer)  # type: ignore[arg-type]
    served.record(7, items(2) + items(1, account="43"))  # a plain call: nothing awaited
    assert producer.sent == []
    assert await served.flush()
    assert len(producer.sent) == 1
    topic, _, key = producer.sent[0]
    assert topic == "weitao.engagement.v1" and key == b"7"
    (page,) = pages(producer)
    assert (page.user_id, page.served) == ("7", [["42", "1000"], ["42", "1001"], ["43", "1000"]])


async def test_an_empty_page_sends_nothing():
    producer = FakeProducer()
    served = ServedPages(producer)  # type: ignore[arg-type]
    served.record(7, [])
    assert await served.flush()
    assert producer.sent == []


async def test_a_kafka_error_keeps_the_batch_for_the_next_flush():
    producer = FakeProducer(failures=1)
    served = ServedPages(producer)  # type: ignore[arg-type]
    served.record(7, items(2))
    served.record(8, items(1))
    assert not await served.flush()
    assert await served.flush()
    assert [(p.user_id, len(p.served)) for p in pages(producer)] == [("7", 2), ("8", 1)]


async def test_while_kafka_is_away_the_queue_keeps_the_newest_pages(monkeypatch):
    monkeypatch.setattr(impressions, "MAX_PENDING", 3)
    producer = FakeProducer()
    served = ServedPages(producer)  # type: ignore[arg-type]
    for user in range(1, 6):
        served.record(user, items(2))
    assert await served.flush()
    assert [p.user_id for p in pages(producer)] == ["3", "4", "5"]


async def test_the_background_task_sends_what_reads_recorded():
    producer = FakeProducer()
    served = ServedPages(producer)  # type: ignore[arg-type]
    task = asyncio.create_task(served.run())
    for user in range(4):
        served.record(user, items(3))
    for _ in range(100):
        if len(producer.sent) == 4:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(producer.sent) == 4
    assert not producer.running  # stopped with the task


async def test_each_reader_keeps_the_partition_per_message_send_would_give_it():
    producer = FakeProducer(partitions=3, batch_room=2)  # full batches go out mid-flush
    served = ServedPages(producer)  # type: ignore[arg-type]
    for user in ("1", "22", "333", "4444"):
        for _ in range(5):
            served.record(user, items(2))
    assert await served.flush()
    assert len(producer.sent) == 20
    default = DefaultPartitioner()
    assert producer.partition_of_key == {
        key: {default(key, [0, 1, 2], [0, 1, 2])} for key in (b"1", b"22", b"333", b"4444")
    }


async def test_the_served_time_is_written_as_timeutil_writes_it(monkeypatch):
    moment = 1_795_000_000.042  # 2026-11-18T...:40.042Z
    monkeypatch.setattr(impressions.time, "time", lambda: moment)
    producer = FakeProducer()
    served = ServedPages(producer)  # type: ignore[arg-type]
    served.record(7, items(1))
    assert await served.flush()
    (page,) = pages(producer)
    assert page.at == rfc3339(from_epoch_ms(1_795_000_000_042))
    assert Envelope.decode(producer.sent[0][1]).occurred_at == page.at


async def test_each_page_has_its_own_random_event_id():
    producer = FakeProducer()
    served = ServedPages(producer)  # type: ignore[arg-type]
    for user in range(50):
        served.record(user, items(1))
    assert await served.flush()
    event_ids = {Envelope.decode(value).event_id for _, value, _ in producer.sent}
    assert len(event_ids) == 50
    assert all(len(e) == 32 and int(e, 16) >= 0 for e in event_ids)
