"""Insights' use cases (service.Ingest and service.Reads) on in-memory fakes: exactly
once under redelivery, a failed transaction leaving nothing, suspended accounts leaving
the rankings, the projection rule (404 or 503), access, and how the recommendation
lists are assembled."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from services.insights import domain
from services.insights.service import Ingest, Reads
from shared.auth import Principal
from shared.errors import ApiError
from shared.events import (
    AccountChanged,
    EngagementRecorded,
    GroupBuyDecided,
    PostInteraction,
    PostPublished,
)
from shared.ids import id_time_ms
from shared.kafka import Identified
from tests.events import seller_changed
from tests.unit.fakes_insights import FakeInsights, FakeRelations

SHOP, FAN, OTHER_FAN, POST = 7_000_000_001, 7_000_000_002, 7_000_000_003, 7_000_000_009
AT = "2031-03-01T04:00:00.000Z"  # noon in Shanghai
DAY = date(2031, 3, 1)
SERVICE = Principal("gateway", "service")
SHOP_USER = Principal(str(SHOP), "user")


def engagement(action: str, user: int = FAN, **extra) -> EngagementRecorded:
    return EngagementRecorded(action, str(user), str(SHOP), str(POST), AT, **extra)


def account(account_id: int, status: str = "active", version: int = 1) -> AccountChanged:
    return seller_changed(
        account_id, status, version, change="created", category="home", created_at=AT
    )


ENVELOPES = itertools.count()


def ids(*events) -> list[Identified]:
    """Each event in an envelope of its own."""
    return [Identified(f"envelope-{next(ENVELOPES)}", e) for e in events]


@pytest.fixture
def db() -> FakeInsights:
    return FakeInsights()


@pytest.fixture
def ingest(db: FakeInsights) -> Ingest:
    return Ingest(db, db)


def reads(
    db: FakeInsights, relations: FakeRelations | None = None, now_ms: int | None = None
) -> Reads:
    now = now_ms if now_ms is not None else id_time_ms(SHOP) + 3_600_000
    relations = relations or FakeRelations()
    return Reads(db, db, relations, db, projection_wait_s=0, now_ms=lambda: now)


def user_day(db: FakeInsights, user: int = FAN) -> dict[str, int]:
    return dict(db.user_day[(SHOP, DAY, user)])


async def test_a_redelivered_event_counts_once(ingest, db):
    batch = ids(engagement("view", dwell_ms=1000), engagement("click"))
    await ingest.engagement(batch)
    await ingest.engagement(batch)  # redelivered
    await ingest.engagement([batch[1], batch[1]])  # the same envelope twice in one batch
    row = user_day(db)
    assert (row["views"], row["clicks"], row["dwell_ms"], row["dwell_reports"]) == (1, 1, 1000, 1)
    assert db.dirty == {SHOP}


async def test_an_order_counts_once_whatever_envelope_brings_it(ingest, db):
    purchase = engagement("purchase", order_id="o1", amount_cents=5000)
    await ingest.engagement(ids(purchase, purchase))
    await ingest.engagement(ids(purchase))
    assert db.dirty == {SHOP}
    assert (user_day(db)["purchases"], user_day(db)["gmv_cents"]) == (1, 5000)
    assert await db.post_totals(POST) == {
        "impressions": 0,
        "views": 0,
        "clicks": 0,
        "purchases": 1,
        "gmv_cents": 5000,
        "likes": 0,
    }


async def test_a_failed_transaction_leaves_neither_claim_nor_effect(ingest, db):
    batch = ids(engagement("view"), engagement("purchase", order_id="o1", amount_cents=100))
    db.fail_writes = True
    with pytest.raises(ConnectionError):
        await ingest.engagement(batch)
    assert (db.event_ids, db.orders, dict(db.user_day)) == (set(), set(), {})
    db.fail_writes = False
    await ingest.engagement(batch)  # redelivered after the failure: counted now
    assert (user_day(db)["views"], user_day(db)["purchases"]) == (1, 1)


def group_buy(action: str, user: int) -> PostInteraction:
    return PostInteraction(str(POST), str(SHOP), str(user), action, AT)


def decided(state: str = "succeeded") -> GroupBuyDecided:
    return GroupBuyDecided(str(POST), str(SHOP), "tea", state, 2, 2, 9900, AT)


async def test_a_succeeded_buy_is_one_purchase_per_participant_counted_once(ingest, db):
    await ingest.interactions(
        ids(
            group_buy("group_buy_join", FAN),
            group_buy("group_buy_join", 99),
            group_buy("group_buy_leave", 99),  # left again: bought nothing
            group_buy("group_buy_join", OTHER_FAN),
        )
    )
    outcome = ids(decided())
    await ingest.interactions(outcome)
    await ingest.interactions(outcome)  # redelivered
    await ingest.interactions(ids(decided()))  # the same decision in a new envelope
    for user in (FAN, OTHER_FAN):
        assert (user_day(db, user)["purchases"], user_day(db, user)["gmv_cents"]) == (1, 9900)
    assert (SHOP, DAY, 99) not in db.user_day
    assert (await db.post_totals(POST))["gmv_cents"] == 2 * 9900


async def test_a_failed_buy_sold_nothing(ingest, db):
    await ingest.interactions(ids(group_buy("group_buy_join", FAN), decided("failed")))
    assert dict(db.user_day) == {}


async def test_an_account_no_longer_active_leaves_the_rankings(ingest, db):
    await ingest.accounts(ids(account(SHOP), account(FAN, "suspended", version=2)))
    assert db.forgotten == [FAN]
    assert db.dirty == {SHOP, FAN}


async def test_stats_have_a_row_per_day_with_zeros_where_nothing_happened(ingest, db):
    await ingest.accounts(ids(account(SHOP)))
    await ingest.engagement(
        ids(
            engagement("view"),
            engagement("view", OTHER_FAN),
            engagement("purchase", order_id="o1", amount_cents=700),
        )
    )
    rows = await reads(db).account_stats(SHOP_USER, SHOP, 2, DAY)
    assert [r["date"] for r in rows] == ["2031-02-28", "2031-03-01"]
    assert rows[0]["views"] == rows[0]["purchases"] == 0
    assert rows[0]["conversion_rate"] == 0.0
    assert (rows[1]["views"], rows[1]["unique_visitors"], rows[1]["gmv_cents"]) == (2, 2, 700)
    assert rows[1]["conversion_rate"] == 0.5


async def test_an_unknown_account_is_404_unless_its_id_is_fresh(db):
    with pytest.raises(domain.UnknownAccount):
        await reads(db).account_stats(SERVICE, SHOP, 1, DAY)
    with pytest.raises(ApiError) as fresh:
        await reads(db, now_ms=id_time_ms(SHOP) + 1000).account_stats(SERVICE, SHOP, 1, DAY)
    assert (fresh.value.status, fresh.value.code) == (503, "not_ready")


async def test_only_the_account_staff_or_a_service_read_its_stats(ingest, db):
    await ingest.accounts(ids(account(SHOP)))
    for caller in (SHOP_USER, Principal("1", "staff"), SERVICE):
        assert len(await reads(db).account_stats(caller, SHOP, 1, DAY)) == 1
    with pytest.raises(ApiError) as refused:
        await reads(db).account_stats(Principal(str(FAN), "user"), SHOP, 1, DAY)
    assert refused.value.status == 403


async def test_post_stats_are_for_the_author_and_an_unknown_post_is_404(ingest, db):
    await ingest.posts(ids(PostPublished(str(POST), str(SHOP), "home", id_time_ms(POST))))
    assert (await reads(db).post_stats(SHOP_USER, POST))["likes"] == 0
    with pytest.raises(ApiError):
        await reads(db).post_stats(Principal(str(FAN), "user"), POST)
    with pytest.raises(domain.UnknownPost):
        await reads(db).post_stats(SERVICE, POST + 1)


async def test_the_official_list_leaves_out_what_a_user_follows(db):
    db.ranked = [{"account": {"id": str(a), "category": "home"}} for a in (11, 12, 13, 14)]
    relations = FakeRelations()
    relations.follows[FAN] = {"11", "13"}
    fan = Principal(str(FAN), "user")
    listed = await reads(db, relations).official(fan, None, 2)
    assert [r["account"]["id"] for r in listed] == ["12", "14"]
    assert len(await reads(db).official(SERVICE, "home", 3)) == 3


async def test_associated_lists_sources_first_each_account_once_with_its_reason(db):
    relations = FakeRelations()
    relations.sources_of[FAN] = [(21, "purchase"), (22, "favorite")]
    relations.swing = {21: [31, 32], 22: [31, 33]}
    relations.co_followed[FAN] = [(34, 41), (32, 42)]
    relations.hidden = {33}
    items = await reads(db, relations).associated(Principal(str(FAN), "user"), FAN, 10)
    assert [(i["account"]["id"], i["because"], i["related_to"]) for i in items] == [
        ("31", "purchase", "21"),
        ("32", "purchase", "21"),
        ("34", "co_follow", "41"),
    ]
    assert len(await reads(db, relations).associated(SERVICE, FAN, 2)) == 2
    with pytest.raises(ApiError):
        await reads(db, relations).associated(Principal(str(OTHER_FAN), "user"), FAN, 10)


async def test_flagged_followers_are_for_staff_only(db):
    db.flagged = [{"account_id": str(SHOP), "user_id": str(FAN)}]
    items, _ = await reads(db).suspicious(Principal("1", "staff"), None, None, 20)
    assert len(items) == 1
    with pytest.raises(ApiError):
        await reads(db).suspicious(SERVICE, None, None, 20)
