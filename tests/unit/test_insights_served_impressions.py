"""Feedread's server-side impressions: recorded without awaiting Kafka, sent in batches
as engagement.recorded impressions marked source=server, kept through a Kafka error,
bounded while Kafka is away."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner

from services.feedread import impressions
from services.feedread.impressions import ServedImpressions
from shared.events import SERVER_SOURCE, EngagementRecorded, Envelope, decode
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
    """What ServedImpressions uses of AIOKafkaProducer: record batches per partition."""

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


async def test_a_served_page_becomes_server_impressions_keyed_by_account():
    producer = FakeProducer()
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    served.record(7, items(3))  # a plain call: nothing awaited on the read path
    assert producer.sent == []
    assert await served.flush()
    assert len(producer.sent) == 3
    topic, value, key = producer.sent[0]
    assert topic == "weitao.engagement.v1" and key == b"42"
    envelope = Envelope.decode(value)
    event = decode(envelope)
    assert (event.action, event.user_id, event.account_id, event.post_id) == (
        "impression",
        "7",
        "42",
        "1000",
    )
    assert orjson.loads(value)["payload"]["source"] == "server"


async def test_a_kafka_error_keeps_the_batch_for_the_next_flush():
    producer = FakeProducer(failures=1)
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    served.record(7, items(2))
    assert not await served.flush()
    assert await served.flush()
    assert [decode(Envelope.decode(v)).post_id for _, v, _ in producer.sent] == ["1000", "1001"]


async def test_while_kafka_is_away_the_queue_stays_bounded(monkeypatch):
    monkeypatch.setattr(impressions, "MAX_PENDING", 5)
    producer = FakeProducer()
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    served.record(7, items(8))
    assert await served.flush()
    assert [decode(Envelope.decode(v)).post_id for _, v, _ in producer.sent] == [
        "1003",
        "1004",
        "1005",
        "1006",
        "1007",
    ]


async def test_the_background_task_sends_what_reads_recorded():
    producer = FakeProducer()
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    task = asyncio.create_task(served.run())
    served.record(7, items(4))
    for _ in range(100):
        if len(producer.sent) == 4:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(producer.sent) == 4
    assert not producer.running  # stopped with the task


async def test_each_account_keeps_the_partition_per_message_send_would_give_it():
    producer = FakeProducer(partitions=3, batch_room=2)  # full batches go out mid-flush
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    for account in ("1", "22", "333", "4444"):
        served.record(7, items(5, account))
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
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    served.record(7, items(1))
    assert await served.flush()
    event = decode(Envelope.decode(producer.sent[0][1]))
    assert event.at == rfc3339(from_epoch_ms(1_795_000_000_042))


async def test_each_impression_has_its_own_random_event_id():
    producer = FakeProducer()
    served = ServedImpressions(producer)  # type: ignore[arg-type]
    served.record(7, items(50))
    assert await served.flush()
    event_ids = {Envelope.decode(value).event_id for _, value, _ in producer.sent}
    assert len(event_ids) == 50
    assert all(len(e) == 32 and int(e, 16) >= 0 for e in event_ids)


def test_an_impression_is_byte_for_byte_what_its_contract_encodes():
    """The fast template (impressions._encoded) against the contract's own envelope, for
    ids of digits (the template) and for ids that need escaping (the full encoding)."""
    at_ms = 1_795_000_000_042
    at = rfc3339(from_epoch_ms(at_ms))
    for user, account, post in (("7", "42", "1001"), ('7"', "4\\2", "é%s")):
        event = EngagementRecorded(
            action="impression",
            user_id=user,
            account_id=account,
            post_id=post,
            at=at,
            source=SERVER_SOURCE,
        )
        expected = event.envelope(event_id="ab" * 16, occurred_at=at).encode()
        assert impressions._encoded("ab" * 16, user, account, post, at_ms) == expected
