"""Feedread's Kafka handlers: its own projections of posts, accounts and follows.

All are idempotent: posts are set once and tombstoned once, accounts and follows keep
only their highest version.
"""

from __future__ import annotations

from services.feedread.store import FeedStore
from shared.events import AccountChanged, Contract, FollowChanged, PostDeleted, PostPublished
from shared.kafka import EventHandler

GROUP = "feedread"


def handlers(store: FeedStore) -> dict[type[Contract], EventHandler]:
    return {  # type: ignore[dict-item]
        AccountChanged: store.apply_account,
        FollowChanged: store.apply_follow,
        PostPublished: store.apply_post_published,
        PostDeleted: store.apply_post_deleted,
    }
