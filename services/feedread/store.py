"""Feedread's Redis: its post, account and following projections, and the reads a feed
page is assembled from (services.feedread.service; this is its FeedSource port), through
shared.feedstore's reader API. Here: decoding, versions, expiries and short caches."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from services.feedread.bodies import Encoded, ServedPost, served_account, served_post, tally_json
from services.feedread.brief_cache import BriefCache
from services.feedread.domain import Position, ReadAhead, Visit, comes_after, post_ttl_s
from services.feedread.merge import Entry, range_in_window
from shared.events import (
    AccountChanged,
    FollowChanged,
    PostDeleted,
    PostPublished,
    PostTallied,
    newest_per_entity,
)
from shared.feedstore.keys import PULL_ACCOUNTS, SEEN_READY, timeline_key
from shared.feedstore.reader import FeedReader
from shared.ids import id_time_ms, parse_id
from shared.redis_cluster import AnyRedis
from shared.vocabulary import CATEGORIES

# A deleted post's tombstone outlives any redelivery of its publish event (topic retention
# is 7 days), so a replayed post.published cannot bring the post back.
TOMBSTONE_TTL_S = 30 * 24 * 3600
# Entries of the cursor's own millisecond that a read skips before it finds new ones:
# a post or two share a millisecond in one feed; more are read again with a wider margin.
TIE_MARGIN = 2
# Bodies kept in process (a second's worth of what pages serve, with room).
CACHED_POSTS = 200_000
CACHED_ACCOUNTS = 100_000
# The newest entries of each pulled timeline kept in process (the same for every
# follower: first pages and the next few pages read them from memory), for how long (a
# pulled account's new post reaches its followers' first pages within it), and how many
# timelines' windows are kept at most.
PULLED_WINDOW = 100
PULLED_WINDOW_TTL_S = 0.25
CACHED_WINDOWS = 5_000


class FeedStore:
    def __init__(self, redis: AnyRedis, active_ttl_s: int) -> None:
        self.keyspace = FeedReader(redis)
        self.active_ttl_s = active_ttl_s
        self._pull: set[str] = set()  # the pull set as last fetched
        self._pull_fetches: BriefCache[set[str]] = BriefCache(1)
        self._posts: BriefCache[ServedPost] = BriefCache(CACHED_POSTS)
        self._accounts: BriefCache[Encoded] = BriefCache(CACHED_ACCOUNTS)
        self._known: set[int] = set()
        self._pulled_timelines: tuple[set[str], set[str]] = (set(), set())
        self._windows: BriefCache[list[Entry]] = BriefCache(CACHED_WINDOWS, PULLED_WINDOW_TTL_S)

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

    async def apply_tallies(self, events: list[PostTallied]) -> None:
        """Keeps each post's newest tallies (highest tally_version, one pipeline) for as
        long as the post is kept; they may arrive before the post itself."""
        newest: dict[str, PostTallied] = {}
        for event in events:
            kept = newest.get(event.post_id)
            if kept is None or kept.tally_version < event.tally_version:
                newest[event.post_id] = event
        now_ms = int(time.time() * 1000)
        tallies = []
        for event in newest.values():
            post_id = parse_id(event.post_id)
            ttl_s = post_ttl_s(id_time_ms(post_id), now_ms) if post_id is not None else None
            if ttl_s is not None:
                tallies.append((event.post_id, event.tally_version, tally_json(event), ttl_s))
        if tallies:
            await self.keyspace.apply_tallies(tallies)

    async def apply_post_deleted(self, event: PostDeleted) -> None:
        await self.keyspace.tombstone_post(event.post_id, TOMBSTONE_TTL_S)

    # ------------------------------------------------------------ reads of a page

    async def touch(self, user_id: int, ahead: ReadAhead | None = None) -> Visit:
        """Marks the user active (pending a rebuild if they were not), keeps their feeds
        alive, and returns whether the feed was materialized and what they follow; with
        `ahead`, also what read_after would give for its key, in the same round trip."""
        also = None
        if ahead is not None:
            top, extra = _window(ahead.after)
            also = (ahead.key, top, ahead.floor, ahead.count + extra)
        state, following, raw = await self.keyspace.touch(user_id, self.active_ttl_s, also)
        read = None
        if ahead is not None and raw is not None:
            kept, short = _kept_after(raw, ahead.after, ahead.count, extra)
            read = None if short else (ahead, kept)
        return Visit(state == SEEN_READY, following, read)

    async def read_after(
        self, keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        """For each key, its first `count` entries strictly after `after` (by score and
        member, like a cursor: never by offset) with a score of at least `floor`."""
        top, extra = _window(after)
        found: list[list[Entry]] = [[] for _ in keys]
        pending = list(range(len(keys)))
        while pending:
            results = await self._ranges(
                [keys[index] for index in pending], top, floor, count + extra
            )
            short = []
            for index, raw in zip(pending, results, strict=True):
                found[index], too_short = _kept_after(raw, after, count, extra)
                if too_short:
                    short.append(index)
            pending, extra = short, extra * 4
        return found

    async def _ranges(
        self, keys: list[str], top: int | str, floor: int, count: int
    ) -> list[list[Entry]]:
        """keyspace.ranges, but pulled accounts' timelines (read by each of their many
        followers' pages) are answered from their newest PULLED_WINDOW entries, kept
        PULLED_WINDOW_TTL_S, while the window holds the range: a first page may miss a post
        of that last moment, at the top of the timeline, where a cursor never is; ranges
        below the window are read afresh."""
        pulled = self._timelines_of(self._pull)
        windows = await self._windows.get_many(
            [k for k in keys if k in pulled], lambda found: self._fetch_windows(found, floor)
        )
        answered = {
            key: range_in_window(window, len(window) < PULLED_WINDOW, top, floor, count)
            for key, window in windows.items()
            if window is not None
        }
        asked = [k for k in keys if answered.get(k) is None]
        fresh = dict(zip(asked, await self.keyspace.ranges(asked, top, floor, count), strict=True))
        return [fresh[k] if k in fresh else answered[k] or [] for k in keys]

    def _timelines_of(self, accounts: set[str]) -> set[str]:
        """The timeline keys of the pull set (computed again when it changes)."""
        if self._pulled_timelines[0] is not accounts:
            keys = {timeline_key(a, c) for a in accounts for c in (None, *CATEGORIES)}
            self._pulled_timelines = (accounts, keys)
        return self._pulled_timelines[1]

    async def _fetch_windows(self, keys: list[str], floor: int) -> Sequence[list[Entry] | None]:
        return await self.keyspace.ranges(keys, "+inf", floor, PULLED_WINDOW)

    async def knows(self, account_id: int) -> bool:
        """Whether the account's projection is kept (accounts are never forgotten, so a
        known one is remembered, up to CACHED_ACCOUNTS of them)."""
        if account_id in self._known:
            return True
        if await self.keyspace.account_bodies([str(account_id)]) == [None]:
            return False
        if len(self._known) >= CACHED_ACCOUNTS:
            self._known.clear()
        self._known.add(account_id)
        return True

    async def pull_accounts(self) -> set[str]:
        """The accounts whose timelines are merged at read time (cached a second)."""
        # Through a BriefCache: one fetch when it goes stale, whatever the pages in flight.
        accounts = (await self._pull_fetches.get_many([PULL_ACCOUNTS], self._fetch_pull))[
            PULL_ACCOUNTS
        ]
        return accounts if accounts is not None else set()

    async def _fetch_pull(self, _: list[str]) -> list[set[str] | None]:
        self._pull = await self.keyspace.pull_accounts()
        return [self._pull]

    async def posts(self, members: list[bytes]) -> list[ServedPost | None]:
        """Each post as the API shows it, tallies included (None: deleted, expired or
        unknown); kept posts are cached a second, so a delete shows within that."""
        post_ids = [m.decode() for m in members]
        found = await self._posts.get_many(post_ids, self._fetch_posts)
        return [found[p] for p in post_ids]

    async def _fetch_posts(self, post_ids: list[str]) -> list[ServedPost | None]:
        return [served_post(*kept) for kept in await self.keyspace.post_bodies(post_ids)]

    async def accounts_of(
        self, posts: Sequence[Mapping[str, Any] | None]
    ) -> dict[str, Encoded | None]:
        """The author of each post (None: unknown), by account id (cached a second)."""
        return await self._accounts.get_many(
            {p["account_id"] for p in posts if p}, self._fetch_accounts
        )

    async def _fetch_accounts(self, account_ids: list[str]) -> list[Encoded | None]:
        return [served_account(j) for j in await self.keyspace.account_bodies(account_ids)]


def _window(after: Position | None) -> tuple[int | str, int]:
    """Where a read after `after` starts, and how many entries beyond its count it reads:
    entries sharing the position's score but not after it come first (TIE_MARGIN)."""
    return (after.score, TIE_MARGIN) if after else ("+inf", 0)


def _kept_after(
    raw: list[Entry], after: Position | None, count: int, extra: int
) -> tuple[list[Entry], bool]:
    """The first `count` entries of a range strictly after `after`, and whether the range
    (read `count + extra` long) was too short to hold them: read it again with more."""
    if after is None:
        kept = raw[:count]
    else:
        # Newest first: only the entries of the cursor's millisecond need comparing;
        # every older one lies after it (a deeper page's ranges are mostly those).
        ties = 0
        while ties < len(raw) and raw[ties][0] >= after.score:
            ties += 1
        kept = [(s, m) for s, m in raw[:ties] if comes_after(m, s, after)][:count]
        kept += raw[ties : ties + count - len(kept)]
    return kept, len(kept) < count and len(raw) == count + extra


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
