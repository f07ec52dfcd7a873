"""Feedread's Kafka handlers: its own projections of posts, accounts and follows.

All are idempotent: posts are set once and tombstoned once, accounts, follows and post
tallies keep only their highest version.
"""

from __future__ import annotations

from services.feedread.store import FeedStore
from shared.events import (
    AccountChanged,
    Contract,
    FollowChanged,
    PostDeleted,
    PostPublished,
    PostTallied,
)
from shared.kafka import Batch, EventHandler

GROUP = "feedread"


def handlers(store: FeedStore) -> dict[type[Contract], EventHandler]:
    return {
        AccountChanged: Batch(store.apply_accounts),
        FollowChanged: Batch(store.apply_follows),
        PostPublished: store.apply_post_published,
        PostDeleted: store.apply_post_deleted,
        PostTallied: Batch(store.apply_tallies),
    }
