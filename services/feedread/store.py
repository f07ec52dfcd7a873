"""Feedread's Redis: its post, account and following projections, and the reads a feed
page is assembled from (services.feedread.service; this is its FeedSource port), through
shared.feedstore's reader API. Here: decoding, versions, expiries and short caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import orjson

from services.feedread.bodies import Encoded, ServedPost, served_account, served_post, tally_json
from services.feedread.domain import Position, ReadAhead, Visit, comes_after, post_ttl_s
from services.feedread.merge import Entry
from shared.events import (
    AccountChanged,
    FollowChanged,
    PostDeleted,
    PostPublished,
    PostTallied,
    newest_per_entity,
)
from shared.feedstore.keys import SEEN_READY, timeline_key
from shared.feedstore.reader import FeedReader
from shared.ids import id_time_ms, parse_id
from shared.redis_cluster import AnyRedis
from shared.vocabulary import CATEGORIES

# A deleted post's tombstone outlives any redelivery of its publish event (topic retention
# is 7 days), so a replayed post.published cannot bring the post back.
TOMBSTONE_TTL_S = 30 * 24 * 3600
# Accounts, posts (immutable but for tallies and deletes) and the pull set are cached in
# process: a second of staleness keeps suspensions, deletes and mode switches well inside
# the 2 s callers rely on, and saves round trips and decoding per page.
CACHE_TTL_S = 1.0
# Entries of the cursor's own millisecond that a read skips before it finds new ones:
# a post or two share a millisecond in one feed; more are read again with a wider margin.
TIE_MARGIN = 2
# Bodies kept in process (a second's worth of what pages serve, with room).
CACHED_POSTS = 200_000
CACHED_ACCOUNTS = 100_000
CACHED_HEADS = 20_000


class FeedStore:
    def __init__(self, redis: AnyRedis, active_ttl_s: int) -> None:
        self.keyspace = FeedReader(redis)
        self.active_ttl_s = active_ttl_s
        self._pull: tuple[float, set[str]] = (0.0, set())
        self._posts: BriefCache[ServedPost] = BriefCache(CACHED_POSTS)
        self._accounts: BriefCache[Encoded] = BriefCache(CACHED_ACCOUNTS)
        self._known: set[int] = set()
        self._pulled_timelines: tuple[set[str], set[str]] = (set(), set())
        self._heads: BriefCache[list[tuple[bytes, int]]] = BriefCache(CACHED_HEADS)

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
    ) -> list[list[tuple[bytes, int]]]:
        """keyspace.ranges, but the heads of pulled accounts' timelines (read by each of
        their many followers' pages) come from a brief cache: a first page may miss a post
        of the last CACHE_TTL_S; deeper pages read after their cursor afresh."""
        if top != "+inf":
            return await self.keyspace.ranges(keys, top, floor, count)
        pulled = self._timelines_of(self._pull[1])
        shared = {k for k in keys if k in pulled}
        heads = await self._heads.get_many(
            [f"{count}:{k}" for k in shared], lambda ids: self._fetch_heads(ids, floor, count)
        )
        own = [k for k in keys if k not in shared]
        fresh = dict(zip(own, await self.keyspace.ranges(own, top, floor, count), strict=True))
        return [
            fresh[k] if k in fresh else [e for e in heads[f"{count}:{k}"] or () if e[1] >= floor]
            for k in keys
        ]

    def _timelines_of(self, accounts: set[str]) -> set[str]:
        """The timeline keys of the pull set (computed again when it changes)."""
        if self._pulled_timelines[0] is not accounts:
            keys = {timeline_key(a, c) for a in accounts for c in (None, *CATEGORIES)}
            self._pulled_timelines = (accounts, keys)
        return self._pulled_timelines[1]

    async def _fetch_heads(
        self, cache_ids: list[str], floor: int, count: int
    ) -> Sequence[list[tuple[bytes, int]] | None]:
        keys = [cache_id.split(":", 1)[1] for cache_id in cache_ids]
        return await self.keyspace.ranges(keys, "+inf", floor, count)

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
        """The accounts whose timelines are merged at read time (cached CACHE_TTL_S)."""
        fetched_at, accounts = self._pull
        if time.monotonic() - fetched_at > CACHE_TTL_S:
            accounts = await self.keyspace.pull_accounts()
            self._pull = (time.monotonic(), accounts)
        return accounts

    async def posts(self, members: list[bytes]) -> list[ServedPost | None]:
        """Each post as the API shows it, tallies included (None: deleted, expired or
        unknown); kept posts are cached CACHE_TTL_S, so a delete shows within that."""
        post_ids = [m.decode() for m in members]
        found = await self._posts.get_many(post_ids, self._fetch_posts)
        return [found[p] for p in post_ids]

    async def _fetch_posts(self, post_ids: list[str]) -> list[ServedPost | None]:
        return [served_post(*kept) for kept in await self.keyspace.post_bodies(post_ids)]

    async def accounts_of(
        self, posts: Sequence[Mapping[str, Any] | None]
    ) -> dict[str, Encoded | None]:
        """The author of each post (None: unknown), by account id (cached CACHE_TTL_S)."""
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
    raw: list[tuple[bytes, int]], after: Position | None, count: int, extra: int
) -> tuple[list[Entry], bool]:
    """The first `count` entries of a range strictly after `after`, and whether the range
    (read `count + extra` long) was too short to hold them: read it again with more."""
    after_it = raw if after is None else [e for e in raw if comes_after(*e, after)]
    kept = [(int(s), m) for m, s in after_it[:count]]
    return kept, len(kept) < count and len(raw) == count + extra


V = TypeVar("V")


class BriefCache(Generic[V]):
    """Values by id kept CACHE_TTL_S after they were read, fetched in one call when absent
    or stale; a None (unknown) is not kept. Past `bound` entries the stale ones go.
    Reads of ids being fetched wait for that fetch: when a value goes stale, every page in
    flight wants it at once, and one fetch serves them all."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._kept: dict[str, tuple[float, V]] = {}
        self._fetching: dict[str, asyncio.Future[dict[str, V | None]]] = {}

    async def get_many(
        self, ids: Iterable[str], fetch: Callable[[list[str]], Awaitable[Sequence[V | None]]]
    ) -> dict[str, V | None]:
        """Each id's value, fetching (in one call) those not kept, kept too long, or not
        being fetched already."""
        now = time.monotonic()
        found: dict[str, V | None] = {}
        waiting: list[str] = []
        missing: list[str] = []
        for key in dict.fromkeys(ids):
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] <= CACHE_TTL_S:
                found[key] = kept[1]
            else:
                waiting.append(key)
                if key not in self._fetching:
                    missing.append(key)
        if missing:
            task = asyncio.ensure_future(self._fetch(missing, fetch, now))
            task.add_done_callback(_retrieve_exception)
            for key in missing:
                self._fetching[key] = task
        if waiting:
            fetches = {id(f): f for f in (self._fetching[key] for key in waiting)}
            # Shielded: a reader that goes away does not cancel what others wait for.
            fetched: dict[str, V | None] = {}
            for values in await asyncio.gather(*map(asyncio.shield, fetches.values())):
                fetched.update(values)
            for key in waiting:
                found[key] = fetched[key]
        return found

    async def _fetch(
        self,
        keys: list[str],
        fetch: Callable[[list[str]], Awaitable[Sequence[V | None]]],
        now: float,
    ) -> dict[str, V | None]:
        try:
            fetched = dict(zip(keys, await fetch(keys), strict=True))
        finally:
            for key in keys:
                del self._fetching[key]
        for key, value in fetched.items():
            if value is not None:
                self._kept[key] = (now, value)
        if len(self._kept) > self.bound:
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] <= CACHE_TTL_S}
        return fetched


def _retrieve_exception(task: asyncio.Future) -> None:
    """Marks a failed fetch's exception seen when no reader is left to receive it."""
    if not task.cancelled():
        task.exception()


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
