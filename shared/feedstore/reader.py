"""Feedread's side of the feed keyspace (keys.WRITERS): the activity marker and its
projections of follows, accounts and posts, which it writes; and the reads a feed page is
assembled from (feeds, timelines, the pull set), which fanout writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.feedstore import packed, scripts
from shared.feedstore.keys import (
    FEED_OUTLIVES_SEEN_S,
    POST_TOMBSTONE,
    PULL_ACCOUNTS,
    account_key,
    family_of,
    feed_key,
    following_key,
    post_key,
    post_tally_key,
    seen_key,
)
from shared.redis_cluster import AnyRedis, AutoPipeline, Command, Script

# A read moves the marker's and the feeds' expiries once the marker has aged this much:
# a user's marker may so expire this much before `active_ttl_s` after their last read.
TOUCH_REFRESH_S = 300

_TOUCH = Script(scripts.TOUCH)
_READ_PACKED = Script(packed.READ)

# (user id, account id, version, following) of a follow change.
FollowVersion = tuple[str, str, int, bool]
# (account id, version, JSON summary) of an account change.
AccountVersion = tuple[str, int, bytes]
# (post id, tally version, JSON tallies, TTL in s) of a post's tallies.
TallyVersion = tuple[str, int, bytes, int]
# (key, top, floor, count) of one range read (FeedReader.ranges' arguments for one key).
RangeRead = tuple[str, int | str, int, int]
# A post's JSON body (None: deleted, expired or unknown) and its newest tallies' JSON.
PostBody = tuple[bytes | None, bytes | None]


class FeedReader:
    """The only writer of markers and feedread's projections; reads of feeds and timelines."""

    def __init__(self, redis: AnyRedis) -> None:
        # redis-py types each command for sync and async clients at once (`T | Awaitable[T]`)
        # and EVAL's arguments as str only: mypy checks this code, not those stubs.
        self.redis: Any = redis
        # A page's reads, sent with those of every other page of the same loop pass.
        self._reads = AutoPipeline(redis)

    # ------------------------------------------------------------ projections

    async def apply_accounts(self, accounts: Sequence[AccountVersion]) -> None:
        """Keeps each account's summary unless a higher version is kept (one pipeline)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for account_id, version, summary in accounts:
                pipe.eval(scripts.APPLY_ACCOUNT, 1, account_key(account_id), version, summary)
            await pipe.execute()

    async def apply_follows(self, follows: Sequence[FollowVersion]) -> None:
        """Keeps each follow unless a higher version is kept (one pipeline)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, account_id, version, following in follows:
                sign = 1 if following else -1
                pipe.eval(
                    scripts.APPLY_FOLLOW, 1, following_key(user_id), account_id, version, sign
                )
            await pipe.execute()

    async def keep_post(self, post_id: str, body: bytes, ttl_s: int) -> None:
        """Keeps a post's body for `ttl_s`; never over a tombstone (a redelivered publish)."""
        await self.redis.set(post_key(post_id), body, nx=True, ex=ttl_s)

    async def apply_tallies(self, tallies: Sequence[TallyVersion]) -> None:
        """Keeps each post's tallies unless a higher version is kept (one pipeline)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for post_id, version, tally, ttl_s in tallies:
                pipe.eval(scripts.APPLY_TALLY, 1, post_tally_key(post_id), version, tally, ttl_s)
            await pipe.execute()

    async def tombstone_post(self, post_id: str, ttl_s: int) -> None:
        """Replaces a post's body with a tombstone for `ttl_s`."""
        await self.redis.set(post_key(post_id), POST_TOMBSTONE, ex=ttl_s)

    # ------------------------------------------------------------ reads of a page

    async def touch(
        self, user_id: int, active_ttl_s: int, also: RangeRead | None = None
    ) -> tuple[bytes | None, dict[str, int], list[tuple[int, bytes]] | None]:
        """Marks the user active for `active_ttl_s` (pending a rebuild if they were not),
        keeps their feeds alive a margin longer (both moved every TOUCH_REFRESH_S); returns
        the marker it found, what the user follows (account id -> signed version) and, in
        the same command, the range `also` asks for (as `ranges` reads it) of one of the
        user's feeds."""
        own = feed_key(user_id)
        feed = also[0] if also is not None else own
        if feed != own and not feed.startswith(own + ":"):  # a category feed: own:category
            raise ValueError(f"{feed} is not one of user {user_id}'s feeds")
        keys = [seen_key(user_id), following_key(user_id), feed]
        ttl = active_ttl_s + FEED_OUTLIVES_SEEN_S
        args: list[int | str] = [active_ttl_s, ttl, TOUCH_REFRESH_S, user_id]
        if also is not None:
            args += [also[1], also[3]]
        [(state, flat, raw)] = await self._reads.run([_TOUCH.command(keys, args)])
        following = dict(zip(map(bytes.decode, flat[::2]), map(int, flat[1::2]), strict=True))
        read = self._decoded(also[0], raw, also[2]) if also is not None else None
        return state, following, read

    async def ranges(
        self, keys: Sequence[str], top: int | str, floor: int, count: int
    ) -> list[list[tuple[int, bytes]]]:
        """For each feed or timeline key, its first `count` (score, member) pairs with a
        score from `top` down to `floor` (both inclusive), newest first: one round trip.
        Feeds are packed lists (packed.READ), timelines sorted sets; both read alike."""
        if not keys:
            return []
        found = await self._reads.run([_range(key, top, floor, count) for key in keys])
        return [self._decoded(key, raw, floor) for key, raw in zip(keys, found, strict=True)]

    @staticmethod
    def _decoded(key: str, raw: Sequence[Any], floor: int) -> list[tuple[int, bytes]]:
        """A range's reply as (score, member) pairs, newest first, down to `floor`."""
        if family_of(key) != "feed":  # member, score, member, score...
            return [(int(s), m) for m, s in zip(raw[::2], raw[1::2], strict=True)]
        entries = packed.decode_scored(raw)
        while entries and entries[-1][0] < floor:
            entries.pop()
        return entries

    async def pull_accounts(self) -> set[str]:
        """The accounts whose timelines are merged at read time."""
        return {m.decode() for m in await self.redis.smembers(PULL_ACCOUNTS)}

    async def post_bodies(self, post_ids: Sequence[str]) -> list[PostBody]:
        """Each post's JSON body (None: deleted, expired or unknown) and tallies (None:
        none kept), in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                pipe.get(post_key(post_id))
                pipe.hget(post_tally_key(post_id), "j")
            raw = await pipe.execute()
        bodies = [v if v and v != POST_TOMBSTONE else None for v in raw[::2]]
        return list(zip(bodies, raw[1::2], strict=True))

    async def account_bodies(self, account_ids: Sequence[str]) -> list[bytes | None]:
        """Each account's JSON summary (None: unknown)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for account_id in account_ids:
                pipe.hget(account_key(account_id), "j")
            return await pipe.execute()


def _range(key: str, top: int | str, floor: int, count: int) -> Command:
    """The read of one range (see FeedReader.ranges)."""
    if family_of(key) == "feed":
        return _READ_PACKED.command([key], [top, count])
    # A timeline, as a plain command: the reply stays flat, no float per score.
    return ("ZRANGE", key, top, floor, "BYSCORE", "REV", "LIMIT", 0, count, "WITHSCORES")
