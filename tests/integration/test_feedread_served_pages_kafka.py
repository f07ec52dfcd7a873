"""Feedread's served pages on the real Kafka: sent as record batches per partition, each
lands on the partition its reader's key hashes to and decodes as a feed.page_served."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from services.feedread.impressions import ServedPages
from shared.envelope import Envelope
from shared.events import FeedPageServed, decode
from shared.kafka import producer
from shared.topics import ENGAGEMENT
from tests.support import records_keyed


@dataclass
class Item:
    post: dict[str, Any]


async def test_served_pages_reach_kafka_on_their_readers_partitions(stack):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    readers = [f"9{secrets.randbelow(10**12)}" for _ in range(6)]
    served = ServedPages(producer(bootstrap))
    await served.producer.start()
    try:
        for reader in readers:
            served.record(
                reader, [Item({"id": f"{reader}{i}", "account_id": "42"}) for i in range(4)]
            )
        assert await served.flush()
        every = sorted(await served.producer.partitions_for(ENGAGEMENT.name))
    finally:
        await served.producer.stop()
    records = await records_keyed(bootstrap, [ENGAGEMENT], set(readers))
    assert len(records) == 6
    partitioner = DefaultPartitioner()
    for record in records:
        assert record.partition == partitioner(record.key, every, every)
        page = decode(Envelope.decode(record.value))
        assert isinstance(page, FeedPageServed)
        assert page.user_id == record.key.decode()
        assert page.served == [["42", f"{page.user_id}{i}"] for i in range(4)]
