"""feed.page_served in insights, on fakes: each served item is one server impression (so
reach), a redelivered page counts once, pages and client engagement share a batch, and a
malformed page is dead-lettered alone while the good events around it count."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.insights import consumer
from services.insights.service import Ingest
from shared.events import SERVER_SOURCE, BadEvent, FeedPageServed
from shared.kafka import ConsumerLoop, Identified
from tests.unit import test_insights_service as service_tests
from tests.unit.fakes_insights import FakeInsights
from tests.unit.fakes_kafka import Consumed, DeadLetters
from tests.unit.test_insights_service import AT, DAY, FAN, OTHER_FAN, POST, SHOP, engagement, ids

db, ingest = service_tests.db, service_tests.ingest  # the same fixtures

OTHER_SHOP, OTHER_POST, THIRD_POST = 7_000_000_004, 7_000_000_010, 7_000_000_011


def page(user: int, *served: tuple[int, int]) -> FeedPageServed:
    return FeedPageServed(str(user), AT, [[str(a), str(p)] for a, p in served])


def impressions_by_user(db: FakeInsights, account: int) -> dict[int, int]:
    """The account's impressions today per user (reach: how many of them are not 0)."""
    return {
        user: row["impressions"]
        for (a, day, user), row in db.user_day.items()
        if a == account and day == DAY and row["impressions"]
    }


async def test_each_item_of_a_page_is_one_server_impression(ingest, db):
    await ingest.engagement(
        ids(
            page(FAN, (SHOP, POST), (SHOP, OTHER_POST), (OTHER_SHOP, THIRD_POST)),
            page(OTHER_FAN, (SHOP, POST)),
        )
    )
    assert impressions_by_user(db, SHOP) == {FAN: 2, OTHER_FAN: 1}  # 3 impressions, reach 2
    assert impressions_by_user(db, OTHER_SHOP) == {FAN: 1}
    assert {key: row["impressions"] for key, row in db.post_user.items()} == {
        (POST, FAN): 1,  # a post's reach: its rows with impressions
        (OTHER_POST, FAN): 1,
        (THIRD_POST, FAN): 1,
        (POST, OTHER_FAN): 1,
    }
    assert db.dirty == {SHOP, OTHER_SHOP}


async def test_a_redelivered_page_counts_once(ingest, db):
    batch = ids(page(FAN, (SHOP, POST), (SHOP, OTHER_POST), (SHOP, THIRD_POST)))
    await ingest.engagement(batch)
    await ingest.engagement(batch)  # redelivered
    await ingest.engagement([batch[0], batch[0]])  # the same envelope twice in one batch
    assert impressions_by_user(db, SHOP) == {FAN: 3}


async def test_pages_and_client_engagement_count_together_in_one_batch(ingest, db):
    await ingest.engagement(
        ids(
            engagement("view", dwell_ms=1000),
            page(FAN, (SHOP, POST), (SHOP, OTHER_POST)),
            engagement("impression"),  # a client's own report: not counted
            engagement("click"),
            # an engagement.recorded server impression from before pages: still counted
            engagement("impression", OTHER_FAN, source=SERVER_SOURCE),
        )
    )
    assert impressions_by_user(db, SHOP) == {FAN: 2, OTHER_FAN: 1}
    fan = db.user_day[(SHOP, DAY, FAN)]
    assert (fan["views"], fan["clicks"], fan["dwell_ms"]) == (1, 1, 1000)


async def test_a_malformed_page_claims_nothing(ingest, db):
    bad = FeedPageServed(str(FAN), AT, [[str(SHOP)]])
    batch = ids(engagement("view"), bad)
    with pytest.raises(BadEvent):
        await ingest.engagement(batch)
    assert db.event_ids == set() and dict(db.user_day) == {}


async def test_a_malformed_page_is_dead_lettered_alone_and_its_batch_counts(db):
    loop = ConsumerLoop(
        "unused:9092", "insights", consumer.handlers(Ingest(db, db)), CollectorRegistry()
    )
    loop.max_attempts = 2
    loop.dead_letters = DeadLetters()  # type: ignore[assignment]
    bad = FeedPageServed(str(FAN), AT, [[str(SHOP), str(POST), "extra"]]).envelope().encode()
    events = [
        page(FAN, (SHOP, POST)),
        page(FAN, (SHOP, OTHER_POST)),
        page(OTHER_FAN, (SHOP, POST)),
        engagement("view"),
    ]
    raws = [e.envelope().encode() for e in events]
    values = [raws[0], raws[1], bad, raws[2], raws[3]]
    await loop.handle_all([Consumed(v, n) for n, v in enumerate(values)])
    assert loop.dead_letters.values == [bad]  # type: ignore[attr-defined]
    assert impressions_by_user(db, SHOP) == {FAN: 2, OTHER_FAN: 1}
    assert db.user_day[(SHOP, DAY, FAN)]["views"] == 1


async def test_a_run_mixing_pages_and_engagement_is_one_batch(db):
    ingest = Ingest(db, db)
    calls: list[int] = []

    async def counted(batch: list[Identified]) -> None:
        calls.append(len(batch))
        await Ingest.engagement(ingest, batch)

    ingest.engagement = counted  # type: ignore[method-assign]
    loop = ConsumerLoop("unused:9092", "insights", consumer.handlers(ingest), CollectorRegistry())
    events = [engagement("view"), page(FAN, (SHOP, POST)), engagement("click")]
    await loop.handle_all([Consumed(e.envelope().encode(), n) for n, e in enumerate(events)])
    assert calls == [3]
