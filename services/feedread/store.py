"""Feedread's Redis: its post, account and following projections, and the reads a feed
page is assembled from (services.feedread.service; this is its FeedSource port), through
shared.feedstore's reader API. Here: decoding, versions, expiries and short caches."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from services.feedread.domain import Position, Visit, comes_after, post_ttl_s
from services.feedread.merge import Entry
from shared.events import (
    AccountChanged,
    FollowChanged,
    PostDeleted,
    PostPublished,
    newest_per_entity,
)
from shared.feedstore.keys import SEEN_READY
from shared.feedstore.reader import FeedReader
from shared.redis_cluster import AnyRedis

# A deleted post's tombstone outlives any redelivery of its publish event (topic retention
# is 7 days), so a replayed post.published cannot bring the post back.
TOMBSTONE_TTL_S = 30 * 24 * 3600
# Accounts and the pull set change rarely; a second of staleness keeps suspensions and
# mode switches well inside the 2 s callers rely on, and saves a round trip per page.
CACHE_TTL_S = 1.0
# Entries of the cursor's own millisecond that a read skips before it finds new ones:
# a post or two share a millisecond in one feed; more are read again with a wider margin.
TIE_MARGIN = 2


class FeedStore:
    def __init__(self, redis: AnyRedis, active_ttl_s: int) -> None:
        self.keyspace = FeedReader(redis)
        self.active_ttl_s = active_ttl_s
        self._pull: tuple[float, set[str]] = (0.0, set())
        self._accounts: dict[str, tuple[float, dict[str, Any] | None]] = {}

    # ------------------------------------------------------------ projections

    async def apply_accounts(self, events: list[AccountChanged]) -> None:
        """Keeps the newest version of each account (one pipeline for the batch)."""
        newest = newest_per_entity(events)
        await self.keyspace.apply_accounts(
            [(e.account_id, e.version, orjson.dumps(_summary(e))) for e in newest]
        )

    async def apply_follows(self, events: list[FollowChanged]) -> None:
        """Keeps the newest version of each follow (one pipeline for the batch)."""
        await self.keyspace.apply_follows(
            [(e.user_id, e.account_id, e.version, e.following) for e in newest_per_entity(events)]
        )

    async def apply_post_published(self, event: PostPublished) -> None:
        """Keeps the post until it leaves every feed; a post already past it is not kept."""
        ttl_s = post_ttl_s(event.published_ms, int(time.time() * 1000))
        if ttl_s is None:
            return
        await self.keyspace.keep_post(event.post_id, orjson.dumps(event.post), ttl_s)

    async def apply_post_deleted(self, event: PostDeleted) -> None:
        await self.keyspace.tombstone_post(event.post_id, TOMBSTONE_TTL_S)

    # ------------------------------------------------------------ reads of a page

    async def touch(self, user_id: int) -> Visit:
        """Marks the user active (pending a rebuild if they were not), keeps their feeds
        alive, and returns whether the feed was materialized and what they follow."""
        state, following = await self.keyspace.touch(user_id, self.active_ttl_s)
        return Visit(state == SEEN_READY, following)

    async def read_after(
        self, keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        """For each key, its first `count` entries strictly after `after` (by score and
        member, like a cursor: never by offset) with a score of at least `floor`."""
        top: int | str = after.score if after else "+inf"
        # Entries sharing the position's score but not after it come first: read a few more
        # than `count`, and more again for a key where even those were not enough.
        extra = TIE_MARGIN if after else 0
        found: list[list[Entry]] = [[] for _ in keys]
        pending = list(range(len(keys)))
        while pending:
            results = await self.keyspace.ranges(
                [keys[index] for index in pending], top, floor, count + extra
            )
            short = []
            for index, raw in zip(pending, results, strict=True):
                kept = [(int(s), m) for m, s in raw if comes_after(m, s, after)][:count]
                if len(kept) < count and len(raw) == count + extra:
                    short.append(index)
                found[index] = kept
            pending, extra = short, extra * 4
        return found

    async def pull_accounts(self) -> set[str]:
        """The accounts whose timelines are merged at read time (cached CACHE_TTL_S)."""
        fetched_at, accounts = self._pull
        if time.monotonic() - fetched_at > CACHE_TTL_S:
            accounts = await self.keyspace.pull_accounts()
            self._pull = (time.monotonic(), accounts)
        return accounts

    async def posts(self, members: list[bytes]) -> list[dict[str, Any] | None]:
        """Each post as the API shows it (None: deleted, expired or unknown)."""
        raw = await self.keyspace.post_bodies([m.decode() for m in members])
        return [orjson.loads(v) if v else None for v in raw]

    async def accounts_of(
        self, posts: list[dict[str, Any] | None]
    ) -> dict[str, dict[str, Any] | None]:
        """The author of each post (None: unknown), by account id (cached CACHE_TTL_S)."""
        now = time.monotonic()
        wanted = {p["account_id"] for p in posts if p}
        stale = sorted(
            a
            for a in wanted
            if now - self._accounts.get(a, (-CACHE_TTL_S * 2, None))[0] > CACHE_TTL_S
        )
        if stale:
            raw = await self.keyspace.account_bodies(stale)
            for account_id, value in zip(stale, raw, strict=True):
                self._accounts[account_id] = (now, orjson.loads(value) if value else None)
            if len(self._accounts) > 100_000:  # bound the cache: drop what is stale
                self._accounts = {
                    k: v for k, v in self._accounts.items() if now - v[0] <= CACHE_TTL_S
                }
        return {a: self._accounts[a][1] for a in wanted}


def _summary(event: AccountChanged) -> dict[str, Any]:
    """The account as feed items show their author."""
    return {
        "id": event.account_id,
        "handle": event.handle,
        "kind": event.kind,
        "display_name": event.display_name,
        "category": event.category,
        "status": event.status,
    }
