"""The consumer loop: which partition's records are handled when, and their commits.

Handlers may run for a long time (waiting out an outage has no bound), and a group only
stays sound if two things hold meanwhile:
- The member stays in its group: aiokafka leaves the group when `getmany` has not been
  called for `max_poll_interval_ms`. The loop never blocks on a handler; when it has no
  reason to fetch (every slot busy) it still polls every tenth of that interval, with
  the partitions in hand paused so the poll returns none of their records.
- Work of a partition this member lost stops before the new owner starts it: the
  rebalance listener cancels in-flight runs of revoked partitions (and drops their
  fetched, unstarted records) before the member rejoins, and nothing is committed for
  them. The new owner replays from the last commit, which idempotent handlers absorb;
  without this, a run finishing late could undo the newer events its successor handled.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from prometheus_client import CollectorRegistry

from shared.events import Contract
from shared.kafka.clients import producer, start_with_retry
from shared.kafka.handling import MAX_HANDLER_ATTEMPTS, EventHandler, EventHandling, events_counter

log = logging.getLogger(__name__)
Fetched = dict[TopicPartition, list[Any]]


@dataclass
class ConsumerLoop(EventHandling):
    """Consumes `topics` as `group` and calls the handler registered for each contract type.

    Events of a type with no handler (or of a version this code does not know) are
    acknowledged and skipped: topics carry events for several consumers.

    Up to `partitions_at_once` partitions are handled concurrently, each still in order,
    in runs of up to `max_records`: for work items whose handlers wait on I/O, one item's
    database read overlaps another's Redis writes, and a finished run makes room for the
    next at once rather than when the slowest of its poll is done. A partition's offset is
    committed after its run is handled.
    """

    bootstrap: str
    group: str
    handlers: dict[type[Contract], EventHandler]
    registry: CollectorRegistry
    max_records: int = 500
    partitions_at_once: int = 1
    max_attempts: int = MAX_HANDLER_ATTEMPTS
    max_poll_interval_ms: int = 300_000
    consumer: AIOKafkaConsumer | None = field(default=None, init=False)
    dead_letters: AIOKafkaProducer | None = field(default=None, init=False)
    _busy: dict[TopicPartition, asyncio.Task[None]] = field(default_factory=dict, init=False)
    _fetched: Fetched = field(default_factory=dict, init=False)  # not started yet
    _assignment_generation: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._events = events_counter(self.registry)

    @property
    def topics(self) -> list[str]:
        """The topics of the contracts that have handlers."""
        return sorted({contract.TOPIC.name for contract in self.handlers})

    async def run(self) -> None:
        """Consumes until cancelled, waiting for Kafka at start; stops its clients at the end."""
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            max_poll_interval_ms=self.max_poll_interval_ms,
        )
        self.consumer.subscribe(self.topics, listener=_AbandonRevokedWork(self))
        self.dead_letters = producer(self.bootstrap)
        await start_with_retry(self.dead_letters, f"{self.group} dead letters")
        await start_with_retry(self.consumer, self.group)
        try:
            await self._consume(self.consumer)
        finally:
            await self._abandon(set(self._busy) | set(self._fetched))
            await self.consumer.stop()
            await self.dead_letters.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """One run of records per partition at a time, which keeps each partition's order.
        Only partitions with nothing in hand are asked for more."""
        keep_alive_s = self.max_poll_interval_ms / 1000 / 10
        while True:
            while self._fetched and len(self._busy) < self.partitions_at_once:
                tp = next(iter(self._fetched))
                records = self._fetched.pop(tp)
                self._busy[tp] = asyncio.create_task(self._handle_partition(tp, records))
            idle = [tp for tp in consumer.assignment() if tp not in self._busy]
            fetch = None
            if not self._fetched and len(self._busy) < self.partitions_at_once:
                if idle or not self._busy:  # no partitions at all means every partition
                    fetch = asyncio.create_task(self._fetch(consumer, idle))
            waiting = [*self._busy.values(), *([fetch] if fetch else [])]
            try:
                done, _ = await asyncio.wait(
                    waiting,
                    timeout=None if fetch else keep_alive_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                if fetch is not None and not fetch.done():
                    fetch.cancel()  # nothing is taken from the buffers until it returns
            if fetch in done:
                self._take(*fetch.result())
            if not done:
                await self._stay_in_group(consumer)
            for tp, task in list(self._busy.items()):
                if task.done():
                    del self._busy[tp]
                    task.result()  # a failure (not a handler's: those retry) stops the loop

    async def _fetch(self, consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> Any:
        records = await consumer.getmany(*parts, timeout_ms=1000, max_records=self.max_records)
        return self._assignment_generation, records

    def _take(self, generation: int, fetched: Fetched) -> None:
        if generation != self._assignment_generation:
            # Fetched before a rebalance took these partitions: whoever owns them now
            # starts from the last commit.
            log.info("records of revoked partitions dropped", extra={"group": self.group})
            return
        self._fetched.update(fetched)

    async def _stay_in_group(self, consumer: AIOKafkaConsumer) -> None:
        """Polls without taking records, so long runs do not pass `max_poll_interval_ms`.
        The partitions in hand are paused for the poll: their prefetched records are
        dropped unread (the position stays after what is in hand) and fetched again."""
        held = [tp for tp in {*self._busy, *self._fetched} if tp in consumer.assignment()]
        if not held:
            return
        consumer.pause(*held)
        try:
            await consumer.getmany(*held, timeout_ms=0)
        finally:
            assigned = consumer.assignment()  # a rebalance may have come meanwhile
            consumer.resume(*(tp for tp in held if tp in assigned))

    async def _abandon(self, partitions: set[TopicPartition]) -> None:
        """Stops the work in hand for `partitions`, committing nothing for it."""
        self._assignment_generation += 1
        for tp in partitions:
            self._fetched.pop(tp, None)
        stopping = [self._busy.pop(tp) for tp in partitions if tp in self._busy]
        for task in stopping:
            task.cancel()
        for result in await asyncio.gather(*stopping, return_exceptions=True):
            if not isinstance(result, asyncio.CancelledError | type(None)):
                log.error("partition run failed", exc_info=result)
        if stopping:
            log.info(
                "runs of revoked partitions stopped; their new owner replays them",
                extra={"group": self.group, "count": len(stopping)},
            )

    async def _handle_partition(self, tp: TopicPartition, records: list[Any]) -> None:
        await self.handle_all(records)
        await self._commit(tp, records[-1].offset + 1)

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        assert self.consumer is not None
        try:
            await self.consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # The partition moved to another member mid-run (the group rebalanced, or it
            # is no longer in this member's assignment); the new owner replays from the
            # last commit, which the idempotent handlers absorb.
            log.info("commit lost to a rebalance", extra={"partition": str(tp), "error": repr(exc)})

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


class _AbandonRevokedWork(ConsumerRebalanceListener):
    """Runs before the member rejoins its group (see the module's docstring)."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Cancels the runs of partitions taken away, committing nothing for them."""
        await self._loop._abandon(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: a new partition is read from its last commit."""
