"""Pages over pulled accounts' timelines answered from their newest entries kept in
process (services.feedread.store.PULLED_WINDOW), on the real Redis: every entry once, in
order, past the window's end too, and the window is read once for many pages."""

from __future__ import annotations

from services.feedread.store import PULLED_WINDOW, FeedStore
from shared.feedstore.keys import PULL_ACCOUNTS, SEEN_READY, feed_key, seen_key, timeline_key
from tests.integration.test_feedread_paging import (
    BetweenReads,
    a_user_following,
    all_pages,
    ids,
    now_ms,
)


async def test_pages_over_pulled_timelines_serve_every_entry_once_in_order(redis):
    pushed, pulled_a, pulled_b = ids.next_id(), ids.next_id(), ids.next_id()
    base = now_ms() - 3_600_000
    posts = {
        pushed: [(ids.next_id(), base + 3 * n) for n in range(40)],
        pulled_a: [(ids.next_id(), base + 2 * n) for n in range(2 * PULLED_WINDOW + 30)],
        pulled_b: [(ids.next_id(), base + 5 * n + 1) for n in range(25)],  # a whole window
    }
    user = await a_user_following(redis, posts)
    await redis.zadd(feed_key(user), {str(p): ms for p, ms in posts[pushed]})
    await redis.set(seen_key(user), SEEN_READY, ex=600)
    for account in (pulled_a, pulled_b):
        await redis.zadd(timeline_key(account), {str(p): ms for p, ms in posts[account]})
        await redis.sadd(PULL_ACCOUNTS, str(account))
    everything = sorted(
        ((ms, str(p).encode()) for entries in posts.values() for p, ms in entries), reverse=True
    )
    reads = BetweenReads(redis, nth=0, action=None)
    try:
        store = FeedStore(reads, 600)
        served = await all_pages(store, user, limit=20)
        assert served == [m.decode() for _, m in everything]
        # Both windows are read once (the pulled timeline's newest 100 entries cover its
        # first pages); after that only the feed and the range below the window.
        first_pass = reads.entries_read
        assert await all_pages(store, user, limit=20) == served
        assert reads.entries_read - first_pass < first_pass
    finally:
        await redis.srem(PULL_ACCOUNTS, str(pulled_a), str(pulled_b))
