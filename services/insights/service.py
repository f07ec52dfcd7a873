"""Insights' use cases over its ports (services.insights.ports): applying each kind of
event exactly once in effect (Ingest), and the reads API.md's "insights" section serves
(Reads): operator stats per day and per post, the official and associated
recommendations, and flagged followers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from services.insights import domain
from services.insights.ports import (
    FlaggedFollows,
    IngestStore,
    IngestTransaction,
    Rankings,
    Relations,
    StatsSource,
)
from services.insights.tally import group_buy_purchases, tally
from shared.auth import Principal, require_actor, require_role
from shared.errors import ApiError
from shared.events import (
    AccountChanged,
    Contract,
    EngagementRecorded,
    FeedPageServed,
    FollowChanged,
    GroupBuyDecided,
    PostDeleted,
    PostInteraction,
    PostPublished,
)
from shared.ids import parse_id
from shared.kafka import Identified
from shared.timeutil import epoch_ms, from_epoch_ms, utcnow

C = TypeVar("C", bound=Contract)

# API.md "Projections": an entity that exists but whose event has not arrived yet is
# waited for (bounded) before the answer says it is unknown.
PROJECTION_WAIT_S = 2.0
PROJECTION_POLL_S = 0.1
SOURCES_PER_USER = 20  # the user's newest favourites and purchases a list starts from
RELATED_PER_SOURCE = 20  # related accounts read per source
GROUP_BUY_MOVES = ("group_buy_join", "group_buy_leave")


async def _fresh(tx: IngestTransaction, batch: Sequence[Identified[C]]) -> list[C]:
    """The events of `batch` never applied before, in order (claims them); the same
    envelope twice in one batch counts once."""
    fresh = await tx.claim_events(sorted(i.event_id for i in batch))
    events = []
    for i in batch:
        if i.event_id in fresh:
            fresh.discard(i.event_id)
            events.append(i.event)
    return events


def _engagement_of(events: list[EngagementRecorded | FeedPageServed]) -> list[EngagementRecorded]:
    """`events` with each served page as its items' server impressions; BadEvent for a
    malformed page (raised inside the transaction, so nothing of its batch is claimed)."""
    out: list[EngagementRecorded] = []
    for e in events:
        if isinstance(e, FeedPageServed):
            out += e.impressions()
        else:
            out.append(e)
    return out


async def _purchases_once(
    tx: IngestTransaction, events: list[EngagementRecorded]
) -> list[EngagementRecorded]:
    """`events` without the purchases whose order was already counted (by an earlier
    event or one before it in this list)."""
    orders = [e.order_id for e in events if e.action == "purchase" and e.order_id]
    if not orders:
        return events
    won = await tx.claim_orders(sorted(orders))
    kept = []
    for e in events:
        if e.action == "purchase":
            if e.order_id not in won:
                continue
            won.discard(e.order_id)
        kept.append(e)
    return kept


class Ingest:
    """Each batch of one kind of event, applied in one transaction that first claims the
    events' envelope ids, so a redelivered or replayed event changes nothing."""

    def __init__(self, store: IngestStore, rankings: Rankings) -> None:
        self.store = store
        self.rankings = rankings

    async def engagement(
        self, batch: Sequence[Identified[EngagementRecorded | FeedPageServed]]
    ) -> None:
        """Adds the new events to the counters, each item of a served page as one server
        impression (a page is claimed as one event) and each purchase order once."""
        async with self.store.writing() as tx:
            fresh = _engagement_of(await _fresh(tx, batch))
            await tx.add_engagement(tally(await _purchases_once(tx, fresh)))

    async def follows(self, batch: Sequence[Identified[FollowChanged]]) -> None:
        """Logs each follow change once and notes new follows for the fake-follower judge."""
        async with self.store.writing() as tx:
            await tx.log_follows(await _fresh(tx, batch))

    async def accounts(self, batch: Sequence[Identified[AccountChanged]]) -> None:
        """Keeps each account's newest version; one no longer active leaves the rankings."""
        async with self.store.writing() as tx:
            await tx.put_accounts(await _fresh(tx, batch))
        inactive = [int(i.event.account_id) for i in batch if i.event.status != "active"]
        if inactive:
            await self.rankings.forget(inactive)

    async def posts(self, batch: Sequence[Identified[PostPublished | PostDeleted]]) -> None:
        """Records published posts on their Shanghai day, and deleted ones as deleted."""
        async with self.store.writing() as tx:
            for e in await _fresh(tx, batch):
                day = domain.shanghai_day(from_epoch_ms(e.published_ms))
                deleted = isinstance(e, PostDeleted)
                await tx.put_post(int(e.post_id), int(e.account_id), day, deleted)

    async def interactions(
        self, batch: Sequence[Identified[PostInteraction | GroupBuyDecided]]
    ) -> None:
        """Likes, comments and votes as sets, so a like after an unlike counts once;
        group-buy participants as a set per buy, and a succeeded buy's participants as
        its purchases (in order: a buy's joins come before its decision, same key)."""
        async with self.store.writing() as tx:
            purchases: list[EngagementRecorded] = []
            for e in await _fresh(tx, batch):
                if isinstance(e, GroupBuyDecided):
                    participants = await tx.group_buy_participants(int(e.post_id))
                    purchases += group_buy_purchases(e, participants)
                elif e.action in GROUP_BUY_MOVES:
                    joined = e.action == "group_buy_join"
                    await tx.set_group_buy_participant(int(e.post_id), int(e.user_id), joined)
                else:
                    await tx.apply_interaction(e)
            if purchases:
                await tx.add_engagement(tally(await _purchases_once(tx, purchases)))


class Reads:
    """What the API serves; access rules and API.md's projection rule included."""

    def __init__(
        self,
        stats: StatsSource,
        rankings: Rankings,
        relations: Relations,
        flagged: FlaggedFollows,
        projection_wait_s: float = PROJECTION_WAIT_S,
        now_ms: Callable[[], int] = lambda: epoch_ms(utcnow()),
    ) -> None:
        self.stats = stats
        self.rankings = rankings
        self.relations = relations
        self.flagged = flagged
        self.projection_wait_s = projection_wait_s
        self.now_ms = now_ms

    async def _known(self, lookup: Callable[[], Awaitable[Any]], entity_id: int) -> Any:
        """`lookup`'s result once it is not None (waiting up to projection_wait_s); then
        None for an entity whose id is fresh is 503 not_ready (its event may be on its
        way), for any other None."""
        deadline = time.monotonic() + self.projection_wait_s
        while True:
            found = await lookup()
            if found is not None or time.monotonic() >= deadline:
                break
            await asyncio.sleep(PROJECTION_POLL_S)
        if found is None and domain.maybe_in_flight(entity_id, self.now_ms()):
            raise ApiError(
                503, "not_ready", "not known to insights yet", headers={"Retry-After": "1"}
            )
        return found

    async def account_stats(
        self, caller: Principal, account_id: int, days: int, today: date
    ) -> list[dict[str, Any]]:
        """The account's rows for the `days` Shanghai days ending `today`, oldest first
        (the account itself, staff or a service); UnknownAccount when insights has none."""
        require_actor(caller, account_id, staff_too=True)

        async def known() -> bool | None:
            return await self.stats.account_known(account_id) or None

        if not await self._known(known, account_id):
            raise domain.UnknownAccount("account not found", account_id=str(account_id))
        dates = domain.window(today, days)
        counts = await self.stats.account_counts(account_id, dates[0], dates[-1])
        return domain.day_rows(dates, counts)

    async def post_stats(self, caller: Principal, post_id: int) -> dict[str, int]:
        """A post's totals (its author, staff or a service); UnknownPost when unknown."""
        if caller.role != "user":
            require_role(caller, "staff", "service")
        author = await self._known(lambda: self.stats.post_author(post_id), post_id)
        if author is None:
            raise domain.UnknownPost("post not found", post_id=str(post_id))
        if caller.role == "user":
            require_actor(caller, author)
        return await self.stats.post_totals(post_id)

    async def official(
        self, caller: Principal, category: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The best `limit` ranked accounts, without those a user caller follows."""
        followed: set[str] = set()
        if caller.role == "user" and (user_id := parse_id(caller.sub)) is not None:
            followed = await self.relations.followed(user_id)
        ranked = await self.rankings.top(category, limit + len(followed))
        return [r for r in ranked if r["account"]["id"] not in followed][:limit]

    async def associated(self, caller: Principal, user_id: int, limit: int) -> list[dict[str, Any]]:
        """Accounts related to the user's favourited and bought-from sellers, then
        co-follows, each once with its reason; never one followed, suspended, a consumer
        or the user."""
        require_actor(caller, user_id)
        sources = await self.relations.sources(user_id, SOURCES_PER_USER)
        lists = await self.relations.related([a for a, _ in sources], RELATED_PER_SOURCE)
        candidates = [
            (account, kind, source)
            for (source, kind), related in zip(sources, lists, strict=True)
            for account in related
        ]
        candidates += [
            (account, "co_follow", via)
            for account, via in await self.relations.co_follows(user_id, 4 * limit)
        ]
        allowed = await self.relations.recommendable(user_id, sorted({c[0] for c in candidates}))
        items: dict[int, dict[str, Any]] = {}
        for account, because, related_to in candidates:
            if account in allowed and account not in items:
                items[account] = {
                    "account": allowed[account],
                    "because": because,
                    "related_to": str(related_to),
                }
        return list(items.values())[:limit]

    async def suspicious(
        self, caller: Principal, account_id: int | None, after: list[int] | None, limit: int
    ) -> tuple[list[dict[str, Any]], list[int] | None]:
        """Flagged follows with their evidence (staff only), after the position."""
        require_role(caller, "staff")
        return await self.flagged.page(account_id, after, limit)
