"""Feedread's use cases: a feed page, and a batch of engagement events, over three ports
(services.feedread.ports).

A page merges, newest first, the user's materialized feed (written by fanout) with the
timelines of the followed accounts that fanout does not push (too many followers).
For a user returning after a long absence, whose feed is not materialized, it merges
the timelines of every followed account instead, and fanout is asked to rebuild.
Every entry is checked against feedread's own projections before it is served.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime

from services.feedread import domain
from services.feedread.domain import (
    MAX_SCAN,
    POST_HORIZON_MS,
    SCAN_BATCH,
    HydratedEntry,
    Page,
    Position,
    ReadAhead,
    visible,
)
from services.feedread.merge import Entry, ReadAfter, newest_after
from services.feedread.ports import EngagementLedger, EventSender, FeedSource
from shared.auth import Principal
from shared.events import EngagementRecorded, FeedRebuildRequested
from shared.feedstore.keys import feed_key, timeline_key
from shared.timeutil import rfc3339, utcnow

log = logging.getLogger(__name__)

# Entries read beyond a page's limit at first, so a few filtered ones cost no second read.
PAGE_SLACK = 5
# A pending user's rebuild is asked for again at most this often (per process).
REBUILD_RETRY_S = 30.0
# Users whose last rebuild request is remembered; past this the memory starts afresh.
REBUILDS_REMEMBERED = 100_000
# API.md "Projections": a reader feedread does not know yet is waited for this long (in
# steps of PROJECTION_POLL_S) before the page is refused as not ready.
PROJECTION_WAIT_S = 1.5
PROJECTION_POLL_S = 0.05


class Feedread:
    """The use cases; domain errors say why a request is refused."""

    def __init__(
        self, feeds: FeedSource, engagement: EngagementLedger, events: EventSender
    ) -> None:
        self.feeds = feeds
        self.engagement = engagement
        self.events = events
        self._rebuilds_asked: dict[int, float] = {}

    # ------------------------------------------------------------ pages

    async def wait_for_reader(self, user_id: int, now_ms: int) -> None:
        """Returns once feedread knows the reader's account; an id minted so recently that
        its account event may be on its way is waited for (up to PROJECTION_WAIT_S), then
        ReaderNotReady. An id unknown long after it was minted is no one's: not waited for."""
        deadline = time.monotonic() + PROJECTION_WAIT_S
        while not await self.feeds.knows(user_id):
            if not domain.maybe_in_flight(user_id, now_ms):
                return
            if time.monotonic() >= deadline:
                raise domain.ReaderNotReady("the reader is not known to feedread yet")
            await asyncio.sleep(PROJECTION_POLL_S)

    async def page(
        self, user_id: int, limit: int, cursor: Position | None, category: str | None
    ) -> Page:
        """Up to `limit` visible items after `cursor` and the position to continue from
        (None at the end); asks fanout to rebuild the feed of a returning user."""
        # Older posts are out of every feed (their projections expire, see POST_HORIZON_MS).
        floor = int(time.time() * 1000) - POST_HORIZON_MS
        want = limit + PAGE_SLACK
        # The user's own feed is read with the touch, before it says the feed is there: a
        # page of a materialized feed (nearly all) then costs one round trip less.
        ahead = ReadAhead(feed_key(user_id, category), cursor, want, floor)
        visit = await self.feeds.touch(user_id, ahead)
        followed = visit.followed()
        read: ReadAfter = self.feeds.read_after
        if visit.ready:
            pull = await self.feeds.pull_accounts()
            sources = [ahead.key] + [timeline_key(a, category) for a in followed if a in pull]
            if visit.ahead is not None:
                read = _answering_ahead(read, *visit.ahead)
        else:  # not materialized yet: every followed account's timeline, merged
            sources = [timeline_key(a, category) for a in followed]
        page = await self._assemble(read, sources, visit.following, limit, cursor, category, floor)
        if not visit.ready and self._ask_rebuild(user_id):
            await self._request_rebuild(user_id)
        return page

    async def _assemble(
        self,
        read: ReadAfter,
        sources: list[str],
        following: dict[str, int],
        limit: int,
        cursor: Position | None,
        category: str | None,
        floor: int,
    ) -> Page:
        items: list[HydratedEntry] = []
        last = cursor
        examined = 0
        want = limit + PAGE_SLACK
        while examined < MAX_SCAN:
            entries, exhausted = await newest_after(read, sources, last, want, floor)
            examined += want
            posts = await self.feeds.posts([member for _, member in entries])
            accounts = await self.feeds.accounts_of(posts)
            for (score, member), post in zip(entries, posts, strict=True):
                if post is None:
                    continue
                author = post["account_id"]
                account = accounts.get(author)
                if visible(post, account, following.get(author, 0), category):
                    assert account is not None
                    items.append(HydratedEntry(post, account))
                    if len(items) == limit:
                        return Page(items, Position(score, int(member)))
            if entries:
                last = Position(entries[-1][0], int(entries[-1][1]))
            if exhausted:
                return Page(items, None)
            # Entries were filtered out: read further, more at once the more were.
            want = min(SCAN_BATCH, max(limit - len(items) + PAGE_SLACK, 2 * want))
        # Examined enough for one request: hand back a cursor that resumes past the scan.
        return Page(items, last)

    def _ask_rebuild(self, user_id: int) -> bool:
        now = time.monotonic()
        if now - self._rebuilds_asked.get(user_id, -REBUILD_RETRY_S) < REBUILD_RETRY_S:
            return False
        if len(self._rebuilds_asked) > REBUILDS_REMEMBERED:
            self._rebuilds_asked.clear()
        self._rebuilds_asked[user_id] = now
        return True

    async def _request_rebuild(self, user_id: int) -> None:
        """Asks fanout to materialize a returning user's feed. The page was already served
        from timelines, so a failure here is logged, not shown; the user stays pending and
        is served from timelines until the rebuild lands."""
        event = FeedRebuildRequested(user_id=str(user_id), at=rfc3339(utcnow()))
        try:
            await self.events.send(event)
        except Exception:
            log.warning("feed rebuild request not sent", extra={"user_id": user_id}, exc_info=True)

    # ------------------------------------------------------------ engagement

    async def record_events(
        self, caller: Principal, events: list[domain.Engagement], now: datetime
    ) -> None:
        """Checks a batch (API.md), charges it to the caller's rate limit, counts each
        purchase's order once, and sends the events to insights. Raises ReportRefused,
        InvalidEngagement, RateLimited or EventsNotSent."""
        if caller.role not in domain.EVENTS_PER_MINUTE:
            raise domain.ReportRefused("events are reported by users and services")
        domain.check_engagement(events, now)
        for index, event in enumerate(events):
            if not caller.may_act_for(int(event.user_id)):
                raise domain.ReportRefused("events may only be reported for oneself", index=index)
        retry_after_s = await self.engagement.charge(
            caller.role,
            caller.sub,
            len(events),
            domain.EVENTS_PER_MINUTE[caller.role],
            domain.RATE_WINDOW_S,
        )
        if retry_after_s:
            raise domain.RateLimited("too many events reported", retry_after_s=retry_after_s)
        await self._send_counting_orders_once(events, now)

    async def _send_counting_orders_once(
        self, events: list[domain.Engagement], now: datetime
    ) -> None:
        """Sends the events; a purchase only when this request is the first to count its
        order. Claims are taken before sending and given back for what was not sent, so a
        retried batch counts those and no others; EventsNotSent when anything was not."""
        claimant = uuid.uuid4().hex
        orders = [e.order_id for e in events if e.order_id is not None]
        counts = iter(await self.engagement.claim_orders(orders, claimant))
        to_send = [e for e in events if e.order_id is None or next(counts)]
        delivered = await self.events.send_all([recorded(e, now) for e in to_send])
        unsent = [e for e, ok in zip(to_send, delivered, strict=True) if not ok]
        if unsent:
            await self.engagement.release_orders(
                [e.order_id for e in unsent if e.order_id is not None], claimant
            )
            raise domain.EventsNotSent("events cannot be recorded right now")


def _answering_ahead(read: ReadAfter, ahead: ReadAhead, entries: list[Entry]) -> ReadAfter:
    """`read`, but asked exactly what was read ahead, it answers that key from `entries`."""

    async def reading(
        keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        asked = ReadAhead(keys[0], after, count, floor) if keys else None
        if asked != ahead:
            return await read(keys, after, count, floor)
        return [entries, *(await read(keys[1:], after, count, floor) if len(keys) > 1 else [])]

    return reading


def recorded(event: domain.Engagement, now: datetime) -> EngagementRecorded:
    """The event as insights receives it (`now` when the client gave no time)."""
    return EngagementRecorded(
        action=event.type,
        user_id=event.user_id,
        account_id=event.account_id,
        post_id=event.post_id,
        at=rfc3339(event.at or now),
        dwell_ms=event.dwell_ms,
        order_id=event.order_id,
        amount_cents=event.amount_cents,
    )
