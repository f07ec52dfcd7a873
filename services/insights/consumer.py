"""Insights' Kafka handlers: engagement, follows, posts, interactions and accounts into
its own tables, each batch in one transaction keyed by the events' envelope ids (the
handlers are `Batch(..., with_ids=True)`, given each event with its envelope id)."""

from __future__ import annotations

import logging

from services.insights.official import OfficialRanking
from services.insights.store import IngestStore
from shared.events import (
    AccountChanged,
    Contract,
    EngagementRecorded,
    FollowChanged,
    PostDeleted,
    PostInteraction,
    PostPublished,
)
from shared.kafka import Batch, EventHandler, Identified

log = logging.getLogger(__name__)

GROUP = "insights"
# Partitions handled at once: one batch's Postgres round trips overlap another's. Rows
# are written in key order, so concurrent batches take their row locks in one order.
PARTITIONS_AT_ONCE = 4


class InsightsHandlers:
    def __init__(self, store: IngestStore, ranking: OfficialRanking) -> None:
        self.store = store
        self.ranking = ranking

    def table(self) -> dict[type[Contract], EventHandler]:
        posts = Batch(self.store.apply_posts, with_ids=True)
        return {
            EngagementRecorded: Batch(self.store.apply_engagement, with_ids=True),
            FollowChanged: Batch(self.store.apply_follows, with_ids=True),
            AccountChanged: Batch(self.on_accounts, with_ids=True),
            PostPublished: posts,
            PostDeleted: posts,
            PostInteraction: Batch(self.store.apply_interactions, with_ids=True),
        }

    async def on_accounts(self, batch: list[Identified[AccountChanged]]) -> None:
        await self.store.apply_accounts(batch)
        suspended = [int(i.event.account_id) for i in batch if i.event.status != "active"]
        if suspended:
            await self.ranking.forget(suspended)
