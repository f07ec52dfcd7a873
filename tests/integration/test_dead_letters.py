"""An event a handler keeps failing on goes to the dead-letter topic, and the loop goes on
past it; once the bug is fixed, the operator's replay brings it back, once. Real Kafka,
on a scratch topic, so no service sees these events."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from shared.deadletters import list_letters, replay
from shared.events import FeedRebuildRequested
from tests.support import ScratchLoop, eventually, running, send_to

USER = "900000001"  # one key: every event lands on one partition, in order
UNDECODABLE = b"{not an envelope"


async def test_a_failing_event_is_dead_lettered_passed_and_replayed_once(stack, scratch_topic):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    group = f"{scratch_topic}-group"
    events = [FeedRebuildRequested(user_id=USER, at=str(n)) for n in (1, 2, 3)]
    raws = [e.envelope().encode() for e in events]
    values = [raws[0], raws[1], UNDECODABLE, raws[2]]
    (partition,) = await send_to(bootstrap, scratch_topic, [(USER.encode(), v) for v in values])

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
    async with running(loop) as all_committed:
        await eventually(lambda: asyncio.sleep(0, list(handled)), lambda h: h == ["1", "3"])
        await all_committed({partition})

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
            1,  # the second record of the fresh topic
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
