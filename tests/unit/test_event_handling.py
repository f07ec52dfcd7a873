"""The consumer loop's handling of a run of records (shared.kafka.handling), on fakes:
how runs are cut into batch calls, what is counted, and when an event is given up on."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.events import BadEvent, FeedRebuildRequested, FollowChanged
from shared.kafka import Batch, ConsumerLoop
from tests.unit.fakes_kafka import Consumed, DeadLetters

AT = "2026-11-25T04:05:06.789Z"


def follow(user: int) -> FollowChanged:
    return FollowChanged(str(user), "42", True, "api", 1, AT)


def rebuild(user: int) -> FeedRebuildRequested:
    return FeedRebuildRequested(str(user), AT)


def loop_with(handlers: dict) -> tuple[ConsumerLoop, CollectorRegistry]:
    registry = CollectorRegistry()
    loop = ConsumerLoop("unused:9092", "scratch", handlers, registry)
    loop.dead_letters = DeadLetters()  # type: ignore[assignment]
    return loop, registry


def records(*events) -> list[Consumed]:
    return [Consumed(e.envelope().encode(), n) for n, e in enumerate(events)]


async def test_types_sharing_one_batch_handler_reach_it_as_one_run_in_order():
    calls: list[list] = []

    async def handle(batch: list) -> None:
        calls.append(batch)

    shared = Batch(handle)
    loop, _ = loop_with({FollowChanged: shared, FeedRebuildRequested: shared})
    events = [follow(1), rebuild(2), follow(3)]
    await loop.handle_all(records(*events))
    assert calls == [events]


async def test_a_mixed_run_is_counted_under_each_events_own_type():
    async def handle(batch: list) -> None:
        pass

    shared = Batch(handle)
    loop, registry = loop_with({FollowChanged: shared, FeedRebuildRequested: shared})
    await loop.handle_all(records(follow(1), rebuild(2), follow(3)))

    def handled(kind: str) -> float | None:
        labels = {"group": "scratch", "type": kind, "outcome": "handled"}
        return registry.get_sample_value("consumer_events_total", labels)

    assert (handled("follow.changed"), handled("feed.rebuild_requested")) == (2, 1)


async def test_an_event_its_handler_finds_malformed_is_dead_lettered_without_retries():
    tries: dict[str, int] = {}

    async def handle(batch: list[FollowChanged]) -> None:
        for event in batch:
            tries[event.user_id] = tries.get(event.user_id, 0) + 1
            if event.user_id == "2":
                raise BadEvent("follow.changed: user 2 is malformed")

    loop, _ = loop_with({FollowChanged: Batch(handle)})
    given = records(follow(1), follow(2), follow(3))
    await loop.handle_all(given)
    assert loop.dead_letters.values == [given[1].value]  # type: ignore[union-attr]
    # the batch stops at user 2; then each alone, user 2 once: retrying cannot mend it
    assert tries == {"1": 2, "2": 2, "3": 1}
