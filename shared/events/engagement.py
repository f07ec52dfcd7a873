"""The contracts of engagement: what users did with accounts and posts, and what
feedread served them (insights is their consumer)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import topics
from shared.envelope import BadEvent, Contract

SERVER_SOURCE = "server"  # EngagementRecorded.source of what feedread served


@dataclass(frozen=True)
class EngagementRecorded(Contract):
    """One user action on an account (and maybe a post): reported by a client, or, for
    `source: server`, an impression feedread recorded as it served a feed page."""

    TOPIC = topics.ENGAGEMENT
    TYPE = "engagement.recorded"

    action: str  # impression | view | dwell | click | favorite | purchase | share
    user_id: str
    account_id: str
    post_id: str | None
    at: str
    dwell_ms: int | None = None
    order_id: str | None = None
    amount_cents: int | None = None
    source: str | None = None  # SERVER_SOURCE: feedread served it; absent: a client reported it

    def key(self) -> str:
        return self.account_id


@dataclass(frozen=True)
class FeedPageServed(Contract):
    """One feed page feedread served to `user_id` at `at`: `served` holds each item's
    `[account_id, post_id]`, in the page's order. Insights counts each item as a server
    impression (EngagementRecorded with `source: server`, what this event replaces: one
    event a page instead of one an item). Keyed by the reader, so pages spread over the
    partitions however few accounts they show."""

    TOPIC = topics.ENGAGEMENT
    TYPE = "feed.page_served"

    user_id: str
    at: str
    served: list[list[str]]

    def key(self) -> str:
        return self.user_id

    def impressions(self) -> list[EngagementRecorded]:
        """The page as one server impression per item; BadEvent when `served` is not a
        list of `[account_id, post_id]` pairs of decimal ids."""
        if not isinstance(self.served, list) or not all(map(_is_id_pair, self.served)):
            raise BadEvent(f"{self.TYPE}: served: items must be [account_id, post_id]")
        return [
            EngagementRecorded(
                action="impression",
                user_id=self.user_id,
                account_id=account_id,
                post_id=post_id,
                at=self.at,
                source=SERVER_SOURCE,
            )
            for account_id, post_id in self.served
        ]


def _is_id_pair(item: object) -> bool:
    """Whether `item` is `[account_id, post_id]`, both ids as decimal strings."""
    return (
        isinstance(item, list)
        and len(item) == 2
        and all(isinstance(part, str) and part.isdigit() for part in item)
    )
