"""An event a handler keeps failing on goes to the dead-letter topic, and the loop goes on
past it; once the bug is fixed, the operator's replay brings it back, once. Real Kafka,
on a scratch topic, so no service sees these events."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from shared.deadletters import list_letters, replay
from shared.events import FeedRebuildRequested
from shared.kafka import producer, start_with_retry
from tests.support import ScratchLoop, eventually

USER = "900000001"  # one key: every event lands on one partition, in order
UNDECODABLE = b"{not an envelope"


async def send_all(bootstrap: str, topic: str, values: list[bytes]) -> TopicPartition:
    sender = producer(bootstrap)
    await start_with_retry(sender, "test")
    try:
        for value in values:
            meta = await sender.send_and_wait(topic, value, key=USER.encode())
        return TopicPartition(meta.topic, meta.partition)
    finally:
        await sender.stop()


async def test_a_failing_event_is_dead_lettered_passed_and_replayed_once(stack, scratch_topic):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    group = f"{scratch_topic}-group"
    events = [FeedRebuildRequested(user_id=USER, at=str(n)) for n in (1, 2, 3)]
    raws = [e.envelope().encode() for e in events]
    partition = await send_all(bootstrap, scratch_topic, [raws[0], raws[1], UNDECODABLE, raws[2]])

    handled: list[str] = []
    bug_fixed = False

    async def handle(event: FeedRebuildRequested) -> None:
        if event.at == "2" and not bug_fixed:
            raise ValueError("a bug in this handler")
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
    task = asyncio.create_task(loop.run())
    check = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await check.start()
    try:
        await eventually(lambda: asyncio.sleep(0, list(handled)), lambda h: h == ["1", "3"])
        end = (await check.end_offsets([partition]))[partition]
        await eventually(
            lambda: check.committed(partition), lambda offset: offset == end, what="all committed"
        )

        async def letters_of_group():
            return [item for item in await list_letters(bootstrap) if item.letter.group == group]

        letters = await letters_of_group()
        assert [(i.letter.value, i.letter.key, i.replayed) for i in letters] == [
            (raws[1], USER.encode(), False),
            (UNDECODABLE, USER.encode(), False),
        ]
        failed, undecodable = (i.letter for i in letters)
        assert (failed.topic, failed.partition, failed.offset) == (
            scratch_topic,
            partition.partition,
            end - 3,
        )
        assert "ValueError('a bug in this handler')" in failed.error
        assert undecodable.error.startswith("undecodable:")
        assert (
            registry.get_sample_value(
                "consumer_events_total",
                {"group": group, "type": "feed.rebuild_requested", "outcome": "dead_lettered"},
            )
            == 1
        )

        bug_fixed = True
        assert await replay(bootstrap, group) == 2
        await eventually(
            lambda: asyncio.sleep(0, list(handled)), lambda h: h == ["1", "3", "2"], what="replay"
        )
        # The undecodable event is still undecodable: it comes back as a new letter, and
        # only that one is pending; the replayed two are not sent a second time.
        letters = await eventually(letters_of_group, lambda found: len(found) == 3)
        assert [i.replayed for i in letters] == [True, True, False]
        assert letters[2].letter.value == UNDECODABLE
        assert await replay(bootstrap, group) == 1
        await asyncio.sleep(1)
        assert handled == ["1", "3", "2"]
    finally:
        await check.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
