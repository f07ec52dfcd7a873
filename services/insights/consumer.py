"""Insights' Kafka handlers: engagement (feedread's served pages included), follows,
posts, interactions (group buys included) and accounts, each a `Batch(..., with_ids=True)`
of the use cases (service.Ingest), given each event with its envelope id."""

from __future__ import annotations

from services.insights.service import Ingest
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
from shared.kafka import Batch, EventHandler

GROUP = "insights"
# Partitions handled at once: one batch's Postgres round trips overlap another's. Rows
# are written in key order, so concurrent batches take their row locks in one order.
PARTITIONS_AT_ONCE = 4


def handlers(ingest: Ingest) -> dict[type[Contract], EventHandler]:
    """The consumer's table: each contract to its use case."""
    posts = Batch(ingest.posts, with_ids=True)
    interactions = Batch(ingest.interactions, with_ids=True)
    engagement = Batch(ingest.engagement, with_ids=True)
    return {
        EngagementRecorded: engagement,
        FeedPageServed: engagement,
        FollowChanged: Batch(ingest.follows, with_ids=True),
        AccountChanged: Batch(ingest.accounts, with_ids=True),
        PostPublished: posts,
        PostDeleted: posts,
        PostInteraction: interactions,
        GroupBuyDecided: interactions,
    }
