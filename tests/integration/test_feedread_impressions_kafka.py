"""Feedread's served impressions on the real Kafka: sent as record batches per partition,
each lands on the partition its account key hashes to and decodes as a server impression."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from services.feedread.impressions import ServedImpressions
from shared.envelope import Envelope
from shared.events import SERVER_SOURCE, EngagementRecorded, decode
from shared.kafka import producer
from shared.topics import ENGAGEMENT
from tests.support import records_keyed


@dataclass
class Item:
    post: dict[str, Any]


async def test_impressions_reach_kafka_on_their_accounts_partitions(stack):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    accounts = [f"9{secrets.randbelow(10**12)}" for _ in range(6)]
    served = ServedImpressions(producer(bootstrap))
    await served.producer.start()
    try:
        for account in accounts:
            posts = [Item({"id": f"{account}{i}", "account_id": account}) for i in range(4)]
            served.record(77, posts)
        assert await served.flush()
        every = sorted(await served.producer.partitions_for(ENGAGEMENT.name))
    finally:
        await served.producer.stop()
    records = await records_keyed(bootstrap, [ENGAGEMENT], set(accounts))
    assert len(records) == 24
    partitioner = DefaultPartitioner()
    for record in records:
        assert record.partition == partitioner(record.key, every, every)
        event = decode(Envelope.decode(record.value))
        assert isinstance(event, EngagementRecorded)
        assert (event.action, event.user_id, event.source) == ("impression", "77", SERVER_SOURCE)
        assert event.account_id == record.key.decode()
