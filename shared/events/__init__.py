"""Every event contract, defined once (the envelope and the base are in shared.envelope),
one module per family: people (accounts, follows), posts, feeds (fanout's work),
engagement. Import them from here: this table of (type, version) -> contract is what
consumers decode by.

Ids travel as decimal strings, as in the HTTP API.
"""

from __future__ import annotations

from typing import TypeVar

from shared.envelope import BadEvent, Contract, Envelope
from shared.events.engagement import SERVER_SOURCE, EngagementRecorded, FeedPageServed
from shared.events.feeds import FanoutChunk, FeedRebuildRequested, FeedSweep
from shared.events.people import AccountChanged, FollowChanged
from shared.events.posts import (
    GroupBuyDecided,
    PostDeleted,
    PostInteraction,
    PostPublished,
    PostTallied,
)

__all__ = [
    "SERVER_SOURCE",
    "AccountChanged",
    "BadEvent",
    "Contract",
    "EngagementRecorded",
    "Envelope",
    "FanoutChunk",
    "FeedPageServed",
    "FeedRebuildRequested",
    "FeedSweep",
    "FollowChanged",
    "GroupBuyDecided",
    "PostDeleted",
    "PostInteraction",
    "PostPublished",
    "PostTallied",
    "decode",
    "newest_per_entity",
]

CONTRACTS: dict[tuple[str, int], type[Contract]] = {
    (c.TYPE, c.VERSION): c
    for c in (
        AccountChanged,
        FollowChanged,
        PostPublished,
        PostDeleted,
        PostTallied,
        PostInteraction,
        GroupBuyDecided,
        FanoutChunk,
        FeedSweep,
        FeedRebuildRequested,
        EngagementRecorded,
        FeedPageServed,
    )
}


def decode(envelope: Envelope) -> Contract | None:
    """The contract an envelope carries, or None for a type/version this code does not know."""
    contract = CONTRACTS.get((envelope.type, envelope.version))
    return contract.from_payload(envelope.payload) if contract else None


V = TypeVar("V", AccountChanged, FollowChanged)


def newest_per_entity(events: list[V]) -> list[V]:
    """Of a batch of versioned events, the newest for each entity (account, or follow
    pair), in first-seen order: applying only those gives the same end state."""
    newest: dict[tuple[str, ...], V] = {}
    for event in events:
        key = (event.account_id, getattr(event, "user_id", ""))
        if key not in newest or newest[key].version < event.version:
            newest[key] = event
    return list(newest.values())
