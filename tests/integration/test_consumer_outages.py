"""The consumer loop on the real Kafka, on scratch topics no service reads: an outage of a
dependency is waited out however long it lasts and never dead-letters an event; a batch
with one bad event gives up on that event only; a long handler keeps its member in the
group; a partition taken away mid-run neither crashes the loop nor loses an event."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
import redis.exceptions as redis_errors
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from shared.deadletters import list_letters
from shared.events import FeedRebuildRequested
from shared.kafka import Batch
from tests.support import ScratchLoop, eventually, running, send_to

USER = "900000002"  # one key: every event lands on one partition, in order
OUTAGE_CALLS = 5  # failed calls during the outage: far more than `max_attempts`


def rebuilds(*ats: str) -> list[FeedRebuildRequested]:
    return [FeedRebuildRequested(user_id=USER, at=at) for at in ats]


def records(events: list[FeedRebuildRequested]) -> list[tuple[bytes, bytes]]:
    """(key, value) of each event, encoded once (an envelope gets a new id each time)."""
    return [(e.key().encode(), e.envelope().encode()) for e in events]


async def letters_of(bootstrap: str, group: str) -> list[bytes | None]:
    return [i.letter.value for i in await list_letters(bootstrap) if i.letter.group == group]


def outcome(registry: CollectorRegistry, group: str, outcome: str) -> float | None:
    labels = {"group": group, "type": "feed.rebuild_requested", "outcome": outcome}
    return registry.get_sample_value("consumer_events_total", labels)


@pytest.mark.parametrize(
    "outage",
    [
        redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        asyncpg.CannotConnectNowError("the database system is starting up"),
    ],
    ids=["redis-down", "postgres-starting-up"],
)
async def test_an_outage_is_waited_out_and_does_not_count_as_an_attempt(
    stack, scratch_topic, outage
):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    group = f"{scratch_topic}-group"
    events = rebuilds("1", "2", "3")
    partitions = await send_to(bootstrap, scratch_topic, records(events))
    failures = [outage] * OUTAGE_CALLS + [ValueError("one failure of its own after it")]
    handled: list[str] = []

    async def handle(event: FeedRebuildRequested) -> None:
        if event.at == "2" and failures:
            raise failures.pop(0)
        handled.append(event.at)

    registry = CollectorRegistry()
    loop = ScratchLoop(
        bootstrap,
        group,
        {FeedRebuildRequested: handle},
        registry,
        max_attempts=2,
        scratch_topic=scratch_topic,
    )
    async with running(loop) as all_committed:
        await all_committed(partitions)
    assert handled == ["1", "2", "3"]
    assert await letters_of(bootstrap, group) == []
    assert outcome(registry, group, "waiting") == 1
    assert outcome(registry, group, "dead_lettered") is None


async def test_one_bad_event_in_a_batch_dead_letters_that_event_alone(stack, scratch_topic):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    group = f"{scratch_topic}-group"
    sent = records(rebuilds("1", "2", "3", "poison", "5", "6"))
    partitions = await send_to(bootstrap, scratch_topic, sent)
    handled: list[str] = []
    batch_sizes: list[int] = []

    async def handle(batch: list[FeedRebuildRequested]) -> None:
        batch_sizes.append(len(batch))
        if any(event.at == "poison" for event in batch):
            raise ValueError("a bug this event triggers")
        handled.extend(event.at for event in batch)

    loop = ScratchLoop(
        bootstrap,
        group,
        {FeedRebuildRequested: Batch(handle)},
        CollectorRegistry(),
        max_attempts=2,
        scratch_topic=scratch_topic,
    )
    async with running(loop) as all_committed:
        await all_committed(partitions)
    assert batch_sizes[0] > 1  # the run did reach the handler as a batch
    assert handled == ["1", "2", "3", "5", "6"]
    assert await letters_of(bootstrap, group) == [sent[3][1]]


async def assigned(loop: ScratchLoop) -> set[TopicPartition]:
    return loop.consumer.assignment() if loop.consumer else set()


async def test_a_handler_waiting_longer_than_max_poll_interval_keeps_its_partition(
    stack, scratch_topic
):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    group = f"{scratch_topic}-group"
    max_poll_interval_ms = 1000
    outage_ends = float("inf")
    callers: set[str] = set()

    def member(name: str) -> ScratchLoop:
        async def handle(event: FeedRebuildRequested) -> None:
            callers.add(name)
            if time.monotonic() < outage_ends:
                raise ConnectionRefusedError(111, "Connection refused")

        return ScratchLoop(
            bootstrap,
            group,
            {FeedRebuildRequested: handle},
            CollectorRegistry(),
            max_poll_interval_ms=max_poll_interval_ms,
            scratch_topic=scratch_topic,
        )

    first, second = member("first"), member("second")
    async with running(first) as all_committed, running(second):
        for loop in (first, second):
            await eventually(lambda loop=loop: assigned(loop), bool, 30, "both members in")
        partitions = await send_to(bootstrap, scratch_topic, records(rebuilds("1")))
        outage_ends = time.monotonic() + 4 * max_poll_interval_ms / 1000
        await all_committed(partitions)
    # Its owner stayed in the group while it waited: had it been dropped for passing
    # max.poll.interval, the other member would have been given the partition and
    # handled the event at the same time.
    assert len(callers) == 1


async def test_a_partition_revoked_mid_run_is_not_committed_and_the_loop_goes_on(
    stack, scratch_topic
):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    group = f"{scratch_topic}-group"
    users = [str(900_000_100 + n) for n in range(48)]  # spread over the partitions
    events = [FeedRebuildRequested(user_id=user, at=user) for user in users]
    partitions = await send_to(bootstrap, scratch_topic, records(events))
    first_blocked, release = asyncio.Event(), asyncio.Event()
    handled: list[tuple[str, str]] = []

    def handler(member: str):
        async def handle(event: FeedRebuildRequested) -> None:
            if not release.is_set():
                first_blocked.set()
                await release.wait()
            handled.append((member, event.at))

        return handle

    def member(name: str) -> ScratchLoop:
        return ScratchLoop(
            bootstrap,
            group,
            {FeedRebuildRequested: handler(name)},
            CollectorRegistry(),
            scratch_topic=scratch_topic,
        )

    first, second = member("first"), member("second")
    first_run = asyncio.create_task(first.run())
    try:
        await eventually(lambda: asyncio.sleep(0, first_blocked.is_set()), bool, 30)
        # A second member joins while the first is in the middle of a run: the group
        # rebalances and takes some of its partitions away.
        async with running(second) as all_committed:
            await eventually(lambda: assigned(second), bool, 30, "second member assigned")
            release.set()
            await all_committed(partitions)
            assert not first_run.done(), first_run  # it did not crash on a lost commit
            assert {at for _, at in handled} == set(users)
            assert {name for name, _ in handled} == {"first", "second"}
    finally:
        first_run.cancel()
        await asyncio.gather(first_run, return_exceptions=True)
