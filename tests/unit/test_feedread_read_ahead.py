"""A page of a materialized feed reads the user's own feed with the touch (one round trip
less): the page's own read asks only for the pulled timelines; a returning user's page,
whose feed is not materialized, does not use what was read ahead."""

from __future__ import annotations

import time
from collections.abc import Sequence

from services.feedread.domain import Position
from services.feedread.merge import Entry
from services.feedread.service import Feedread
from shared.feedstore.keys import feed_key, timeline_key
from tests.fakes.feedread import FakeEngagementLedger, FakeEventSender, FakeFeedSource

USER, SHOP, BIG = 1, "10", "12"
NOW_MS = int(time.time() * 1000) - 60_000


def world() -> tuple[FakeFeedSource, Feedread, list[list[str]]]:
    feeds = FakeFeedSource()
    for account in (SHOP, BIG):
        feeds.author(account)
    feeds.following[USER] = {SHOP: 1, BIG: 1}
    feeds.pulled.add(BIG)
    for n in range(30):
        author = BIG if n % 3 == 0 else SHOP
        feeds.post(100 + n, author, NOW_MS + n)
        if author == SHOP:
            feeds.push(USER, 100 + n, NOW_MS + n)
    reads: list[list[str]] = []
    read_after = feeds.read_after

    async def recording(
        keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        reads.append(list(keys))
        return await read_after(keys, after, count, floor)

    feeds.read_after = recording  # type: ignore[method-assign]
    return feeds, Feedread(feeds, FakeEngagementLedger(), FakeEventSender()), reads


async def test_a_materialized_feed_is_read_once_with_the_touch():
    feeds, feedread, reads = world()
    feeds.ready.add(USER)
    first = await feedread.page(USER, 10, None, None)
    assert [item.post["id"] for item in first.items] == [str(129 - n) for n in range(10)]
    assert reads == [[feed_key(USER)], [timeline_key(BIG)]]
    reads.clear()
    deeper = await feedread.page(USER, 10, first.next_position, None)
    assert [item.post["id"] for item in deeper.items] == [str(119 - n) for n in range(10)]
    assert reads == [[feed_key(USER)], [timeline_key(BIG)]]


async def test_a_returning_users_page_merges_timelines_whatever_was_read_ahead():
    _, feedread, reads = world()
    page = await feedread.page(USER, 10, None, None)
    assert [item.post["id"] for item in page.items] == [str(129 - n) for n in range(10)]
    assert reads[1:] == [[timeline_key(SHOP), timeline_key(BIG)]]
