"""Fan-out's Kafka handlers: each event type to its use case (services.fanout.service),
counted for /metrics and /v1/admin/stats. Three consumer groups, so none of the three
queues behind another."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter

from services.fanout.service import Fanout
from services.fanout.store import FanoutStore
from shared.events import (
    AccountChanged,
    Contract,
    FanoutChunk,
    FeedRebuildRequested,
    FeedSweep,
    FollowChanged,
    PostDeleted,
    PostPublished,
)
from shared.kafka import Batch, EventHandler, send

GROUP = "fanout"
WORK_GROUP = "fanout-work"
REBUILD_GROUP = "fanout-rebuilds"


class ProducerWorkTopic:
    """The work topic (services.fanout.service.WorkTopic) on an event producer."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(self, contract: Contract) -> Any:
        """Queues the message; the returned future resolves once Kafka acknowledged it."""
        return await send(self.producer, contract)


class FanoutHandlers:
    """The use cases on the real store and producer, with their counters."""

    def __init__(
        self,
        store: FanoutStore,
        producer: AIOKafkaProducer,
        registry: CollectorRegistry,
        pull_threshold: int,
        chunk_size: int,
    ) -> None:
        self.store = store
        self.producer = producer
        self.fanout = Fanout(store, store, ProducerWorkTopic(producer), pull_threshold, chunk_size)
        self._deliveries = Counter(
            "fanout_deliveries", "Posts written into followers' feeds", registry=registry
        )
        self._chunks = Counter("fanout_chunks", "Work-topic chunks pushed", registry=registry)
        self.delivered = 0  # the same count, for /v1/admin/stats

    def table(self) -> dict[type[Contract], EventHandler]:
        """Handlers of the main consumer group (accounts, follows, posts)."""
        return {
            PostPublished: self.on_post_published,
            PostDeleted: self.fanout.post_deleted,
            FollowChanged: Batch(self.fanout.follows_changed),
            AccountChanged: Batch(self.fanout.accounts_changed),
        }

    def work_table(self) -> dict[type[Contract], EventHandler]:
        """Handlers of the work consumer group: big fan-outs' chunks, apart from the events
        loop so that one big post never holds up small accounts' posts."""
        return {FanoutChunk: self.on_chunk, FeedSweep: self.fanout.sweep}

    def rebuild_table(self) -> dict[type[Contract], EventHandler]:
        """Handlers of the rebuild consumer group: returning users' feeds, apart from the
        chunks so that a storm of returning users never holds up a big post."""
        return {FeedRebuildRequested: self.on_rebuild_requested}

    def _count(self, written: int) -> None:
        self._deliveries.inc(written)
        self.delivered += written

    async def on_post_published(self, event: PostPublished) -> None:
        self._count(await self.fanout.post_published(event))

    async def on_chunk(self, chunk: FanoutChunk) -> None:
        self._count(await self.fanout.chunk(chunk))
        self._chunks.inc()

    async def on_rebuild_requested(self, event: FeedRebuildRequested) -> None:
        await self.fanout.rebuild(int(event.user_id))
