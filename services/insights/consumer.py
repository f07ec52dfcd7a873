"""Insights' Kafka handlers: engagement, follows, posts, interactions and accounts into
its own tables, each batch in one transaction keyed by the events' envelope ids.

Deduplication needs the envelope's `event_id`, which shared handlers do not receive:
`IdentifiedLoop` lends it to them for the duration of a dispatch (see its docstring)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.insights.official import OfficialRanking
from services.insights.store import Delivered, IngestStore
from shared.events import (
    AccountChanged,
    Contract,
    EngagementRecorded,
    FollowChanged,
    PostDeleted,
    PostInteraction,
    PostPublished,
)
from shared.kafka import Batch, ConsumerLoop, EventHandler

log = logging.getLogger(__name__)

GROUP = "insights"
# Partitions handled at once: one batch's Postgres round trips overlap another's. Rows
# are written in key order, so concurrent batches take their row locks in one order.
PARTITIONS_AT_ONCE = 4


class IdentifiedLoop(ConsumerLoop):
    """A consumer loop whose handlers can ask for the envelope id of the event in hand.

    The shared loop passes handlers the decoded contract only; insights deduplicates by
    envelope id, so while a run is dispatched the ids are kept by object identity (the
    events are alive for exactly that long). A shared `Batch(..., envelopes=True)` would
    make this unnecessary (asked of shared/kafka's owner)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_ids: dict[int, str] = {}

    async def _dispatch(self, run: list) -> None:
        for _, envelope, event in run:
            self.event_ids[id(event)] = envelope.event_id
        try:
            await super()._dispatch(run)
        finally:
            for _, _, event in run:
                self.event_ids.pop(id(event), None)


class InsightsHandlers:
    def __init__(self, store: IngestStore, ranking: OfficialRanking) -> None:
        self.store = store
        self.ranking = ranking
        self.event_ids: Callable[[], dict[int, str]] = dict

    def bind(self, loop: IdentifiedLoop) -> None:
        """Takes envelope ids from `loop` (the one that calls these handlers)."""
        self.event_ids = lambda: loop.event_ids

    def _delivered(self, events: Sequence[Contract]) -> list[Delivered]:
        ids = self.event_ids()
        return [Delivered(ids[id(e)], e) for e in events]

    def table(self) -> dict[type[Contract], EventHandler]:
        posts = Batch(self._batch(self.store.apply_posts))
        return {
            EngagementRecorded: Batch(self.on_engagement),
            FollowChanged: Batch(self.on_follows),
            AccountChanged: Batch(self.on_accounts),
            PostPublished: posts,
            PostDeleted: posts,
            PostInteraction: Batch(self._batch(self.store.apply_interactions)),
        }

    def _batch(
        self, apply: Callable[[Sequence[Delivered]], Awaitable[Any]]
    ) -> Callable[[list[Contract]], Awaitable[None]]:
        async def handle(events: list[Contract]) -> None:
            await apply(self._delivered(events))

        return handle

    async def on_engagement(self, events: list[EngagementRecorded]) -> None:
        await self.store.apply_engagement(self._delivered(events))

    async def on_follows(self, events: list[FollowChanged]) -> None:
        await self.store.apply_follows(self._delivered(events))

    async def on_accounts(self, events: list[AccountChanged]) -> None:
        await self.store.apply_accounts(self._delivered(events))
        suspended = [int(e.account_id) for e in events if e.status != "active"]
        if suspended:
            await self.ranking.forget(suspended)
