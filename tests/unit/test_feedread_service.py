"""Feedread's use cases (services.feedread.service) on in-memory fakes: no servers."""

from __future__ import annotations

import time

import pytest

from services.feedread import domain
from services.feedread.domain import Engagement, Position
from services.feedread.service import Feedread
from shared.auth import Principal
from shared.events import EngagementRecorded, FeedRebuildRequested
from shared.timeutil import utcnow
from tests.fakes.feedread import FakeEngagementLedger, FakeEventSender, FakeFeedSource

USER, SHOP, OTHER, BIG = 1, "10", "11", "12"
NOW_MS = int(time.time() * 1000) - 60_000


class World:
    def __init__(self) -> None:
        self.feeds = FakeFeedSource()
        self.ledger = FakeEngagementLedger()
        self.events = FakeEventSender()
        self.feedread = Feedread(self.feeds, self.ledger, self.events)
        for account in (SHOP, OTHER, BIG):
            self.feeds.author(account)
        self.feeds.following[USER] = {SHOP: 1, OTHER: 1, BIG: 1}
        self.feeds.ready.add(USER)

    async def all_pages(self, limit: int, category: str | None = None) -> list[str]:
        served: list[str] = []
        cursor: Position | None = None
        while True:
            page = await self.feedread.page(USER, limit, cursor, category)
            served += [item.post["id"] for item in page.items]
            if page.next_position is None:
                return served
            cursor = page.next_position


async def test_pages_merge_the_feed_with_pulled_timelines_newest_first_without_repeats():
    world = World()
    world.feeds.pulled.add(BIG)
    for n in range(12):
        author = BIG if n % 3 == 0 else SHOP
        world.feeds.post(100 + n, author, NOW_MS + n)
        world.feeds.push(USER, 100 + n, NOW_MS + n)  # pushed twice over: shown once
    assert await world.all_pages(limit=5) == [str(100 + n) for n in reversed(range(12))]


async def test_a_page_never_shows_a_deleted_suspended_or_unfollowed_accounts_post():
    world = World()
    for n, author in enumerate([SHOP, OTHER, BIG, SHOP]):
        world.feeds.post(100 + n, author, NOW_MS + n)
        world.feeds.push(USER, 100 + n, NOW_MS + n)
    world.feeds.posts_by_id["103"] = None  # deleted
    world.feeds.author(OTHER, status="suspended")
    world.feeds.following[USER][BIG] = -2  # unfollowed
    assert await world.all_pages(limit=20) == ["100"]


async def test_a_category_page_holds_only_that_category():
    world = World()
    world.feeds.post(100, SHOP, NOW_MS, "home")
    world.feeds.push(USER, 100, NOW_MS, "home")
    world.feeds.post(101, SHOP, NOW_MS + 1)
    world.feeds.push(USER, 101, NOW_MS + 1)
    assert await world.all_pages(limit=20, category="home") == ["100"]


async def test_a_returning_user_is_served_from_timelines_and_triggers_one_rebuild_request():
    world = World()
    world.feeds.ready.clear()
    world.feeds.post(100, SHOP, NOW_MS)
    world.feeds.post(101, OTHER, NOW_MS + 1)
    first = await world.feedread.page(USER, 1, None, None)
    second = await world.feedread.page(USER, 1, first.next_position, None)
    assert [i.post["id"] for i in first.items + second.items] == ["101", "100"]
    assert world.events.sent == [FeedRebuildRequested(str(USER), world.events.sent[0].at)]


async def test_a_rebuild_request_that_cannot_be_sent_still_serves_the_page():
    world = World()
    world.feeds.ready.clear()
    world.feeds.post(100, SHOP, NOW_MS)
    world.events.down = True
    page = await world.feedread.page(USER, 20, None, None)
    assert [i.post["id"] for i in page.items] == ["100"]


def purchase(order_id: str, user: str = str(USER)) -> Engagement:
    return Engagement(
        type="purchase", user_id=user, account_id=SHOP, order_id=order_id, amount_cents=990
    )


async def test_a_purchase_is_counted_once_per_order_and_a_failed_send_gives_its_claim_back():
    world = World()
    caller = Principal(sub=str(USER), role="user")
    world.events.unacknowledged = {1}
    with pytest.raises(domain.EventsNotSent):
        await world.feedread.record_events(caller, [purchase("o1"), purchase("o2")], utcnow())
    world.events.unacknowledged = set()
    await world.feedread.record_events(caller, [purchase("o1"), purchase("o2")], utcnow())
    sent = [e.order_id for e in world.events.sent if isinstance(e, EngagementRecorded)]
    assert sent == ["o1", "o2"]


async def test_events_for_someone_else_or_over_the_rate_are_refused():
    world = World()
    caller = Principal(sub=str(USER), role="user")
    with pytest.raises(domain.ReportRefused) as refused:
        await world.feedread.record_events(caller, [purchase("o1", user="2")], utcnow())
    assert refused.value.details == {"index": 0}
    with pytest.raises(domain.ReportRefused):
        await world.feedread.record_events(Principal("9", "staff"), [purchase("o1")], utcnow())
    many = [Engagement(type="view", user_id=str(USER), account_id=SHOP)] * 500
    for _ in range(2):
        await world.feedread.record_events(caller, many, utcnow())
    with pytest.raises(domain.RateLimited) as limited:
        await world.feedread.record_events(caller, many[:1], utcnow())
    assert limited.value.details == {"retry_after_s": 30}
    assert world.events.sent and all(e.user_id == str(USER) for e in world.events.sent)
