"""FeedReader.touch on the real Redis: a read refreshes the marker's and the feeds'
expiries together, and only once the marker has aged past TOUCH_REFRESH_S, so a busy
reader does not rewrite a dozen expiries per page; feeds still outlive the marker by
FEED_OUTLIVES_SEEN_S."""

from __future__ import annotations

from shared.feedstore.keys import (
    FEED_OUTLIVES_SEEN_S,
    SEEN_READY,
    all_feed_keys,
    feed_key,
    following_key,
    seen_key,
)
from shared.feedstore.reader import TOUCH_REFRESH_S, FeedReader
from shared.ids import IdGenerator
from shared.redis_cluster import AnyRedis

ids = IdGenerator(worker=1012)
ACTIVE_S = 7 * 24 * 3600


async def ttls(redis: AnyRedis, user: int) -> tuple[int, int]:
    """(marker TTL, feed TTL) in seconds."""
    return await redis.ttl(seen_key(user)), await redis.ttl(feed_key(user))


async def test_a_touch_within_the_refresh_interval_moves_no_expiry(redis: AnyRedis) -> None:
    user = ids.next_id()
    reader = FeedReader(redis)
    await redis.rpush(feed_key(user), b"x")
    await redis.rpush(feed_key(user, "beauty"), b"x")
    try:
        assert (await reader.touch(user, ACTIVE_S))[0] is None  # new: pending, all set
        assert await ttls(redis, user) == (ACTIVE_S, ACTIVE_S + FEED_OUTLIVES_SEEN_S)
        # The script builds the category feeds' keys itself: theirs moved too.
        assert await redis.ttl(feed_key(user, "beauty")) == ACTIVE_S + FEED_OUTLIVES_SEEN_S
        await redis.set(seen_key(user), SEEN_READY, xx=True, keepttl=True)
        # Aged, but less than the refresh interval: nothing moves.
        aged = ACTIVE_S - TOUCH_REFRESH_S + 5
        await redis.expire(seen_key(user), aged)
        await redis.expire(feed_key(user), aged + FEED_OUTLIVES_SEEN_S)
        assert (await reader.touch(user, ACTIVE_S))[0] == SEEN_READY
        assert await ttls(redis, user) == (aged, aged + FEED_OUTLIVES_SEEN_S)
        # Aged past it: both move, together.
        older = ACTIVE_S - TOUCH_REFRESH_S - 5
        await redis.expire(seen_key(user), older)
        assert (await reader.touch(user, ACTIVE_S))[0] == SEEN_READY
        assert await ttls(redis, user) == (ACTIVE_S, ACTIVE_S + FEED_OUTLIVES_SEEN_S)
    finally:
        await redis.delete(seen_key(user), following_key(user), *all_feed_keys(user))
