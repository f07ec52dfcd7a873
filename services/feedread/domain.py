"""Feed-read rules: cursor positions, what a page may show, engagement events. No I/O.

A feed is ordered like Redis orders a sorted set read in reverse: by score (publish
time, ms) descending, then by member (post id, as bytes) descending. A cursor is the
(score, post id) of the last item served; the next page holds only items strictly after
it in that order, so posts arriving on top never shift a page and nothing repeats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

import msgspec

from shared.errors import DomainError
from shared.ids import Id, id_time_ms

# Entries read per sorted set per round trip, and at most this many entries examined for
# one page: removed or filtered entries are skipped without holding a request for long.
SCAN_BATCH = 100
MAX_SCAN = 2000

# How long a post stays in feeds. Feeds and timelines keep 800 entries, not a time span:
# at the most an account may publish (3 a day), 800 entries reach back 267 days, so a
# post older than 270 days is out of every full feed of its author; the feed of a slower
# author would keep it for years. Pages stop at this age, so the post projection (the
# bulk of feedread's Redis) can expire then, instead of growing for ever.
POST_HORIZON_MS = 270 * 24 * 3600 * 1000
# The projection outlives the horizon a little: publishing's clock may run ahead of ours.
POST_TTL_GRACE_S = 24 * 3600


class Position(NamedTuple):
    """Where a feed entry sits: its score (publish ms) and post id. A tuple: pages make
    one per item served, and a frozen dataclass costs several times as much to build."""

    score: int
    post_id: int

    def member(self) -> bytes:
        return str(self.post_id).encode()


@dataclass(frozen=True)
class ReadAhead:
    """A read of one source asked for with the touch, in its round trip: the user's own
    feed, read before the touch says whether it is materialized (FeedSource.read_after's
    arguments for that key)."""

    key: str
    after: Position | None
    count: int
    floor: int


@dataclass(frozen=True)
class Visit:
    """What a read learns as it marks the user active."""

    ready: bool  # the feed is materialized (else it is merged from timelines)
    following: dict[str, int]  # account id -> the follow's version, negative: unfollowed
    # The read asked for ahead and its (score, member) entries, as read_after gives them
    # (None: not read ahead, or read_after must read that key again).
    ahead: tuple[ReadAhead, list[tuple[int, bytes]]] | None = None

    def followed(self) -> list[str]:
        """The accounts followed now, in id order."""
        return sorted(a for a, version in self.following.items() if version > 0)


class HydratedEntry(NamedTuple):
    """A feed entry served, with its post and author as the API shows them."""

    post: Mapping[str, Any]  # services.feedread.bodies.ServedPost when read from Redis
    account: Mapping[str, Any]


@dataclass
class Page:
    """Up to a limit of visible entries, and the position to go on from (None: the end)."""

    items: list[HydratedEntry]
    next_position: Position | None


def comes_after(member: bytes, score: float, cursor: Position | None) -> bool:
    """True when a feed entry lies strictly after the cursor in newest-first order."""
    if cursor is None:
        return True
    return score < cursor.score or (score == cursor.score and member < cursor.member())


def post_ttl_s(published_ms: int, now_ms: int) -> int | None:
    """Seconds a post's projection is kept: until it passes the feed horizon (plus a
    grace); None when it is already past it and is never shown."""
    ttl_s = (published_ms + POST_HORIZON_MS - now_ms) // 1000 + POST_TTL_GRACE_S
    return ttl_s if ttl_s > 0 else None


def visible(
    post: Mapping[str, Any] | None,
    account: Mapping[str, Any] | None,
    follow_version: int,
    category: str | None,
) -> bool:
    """Whether a feed entry may be served: the post exists, its author is followed and in
    good standing, and it is in the asked category."""
    if post is None or account is None or follow_version <= 0:
        return False
    if account.get("status") == "suspended":
        return False
    return category is None or post.get("category") == category


# An id minted this recently may name an account whose event is still on its way to
# feedread: unknown, it is "not ready yet" (503), not "no one" (API.md "Projections").
IN_FLIGHT_MS = 60_000


class ReaderNotReady(DomainError):
    """The reader's account has not reached feedread's projection within the wait."""

    code = "not_ready"


def maybe_in_flight(account_id: int, now_ms: int) -> bool:
    """Whether `account_id` was minted so recently that its event may not have arrived."""
    return 0 <= now_ms - id_time_ms(account_id) < IN_FLIGHT_MS


# ---------------------------------------------------------------- engagement events

EngagementType = Literal["impression", "view", "dwell", "click", "favorite", "purchase", "share"]
# The schema's pattern, for /openapi.json; `$` lets a trailing newline through, so
# check_engagement holds every id and order id to the whole string.
ORDER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
OrderId = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_.:-]{1,64}$")]
MAX_EVENTS_PER_BATCH = 500
# A purchase of more than 1,000,000 yuan is not a shopper's: insights would rank on it.
MAX_PURCHASE_CENTS = 100_000_000
# Clients report as things happen (and retry for a while): a time further off is made up.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Events a caller may report per minute: a person scrolling fast sees a few hundred
# items a minute; a service (the app gateway) reports for every user at once.
EVENTS_PER_MINUTE = {"user": 1_000, "service": 200_000}
RATE_WINDOW_S = 60


class Engagement(msgspec.Struct, forbid_unknown_fields=True):
    type: EngagementType
    user_id: Id
    account_id: Id
    post_id: Id | None = None
    at: datetime | None = None
    dwell_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] | None = None
    order_id: OrderId | None = None
    amount_cents: Annotated[int, msgspec.Meta(ge=1, le=MAX_PURCHASE_CENTS)] | None = None


# What /openapi.json states of an event beyond its fields: a dwell carries `dwell_ms`, and
# only a purchase carries (and must carry) `order_id` and `amount_cents`.
_DWELL_RULE = {
    "anyOf": [
        {"properties": {"type": {"not": {"enum": ["dwell"]}}}},
        {"required": ["dwell_ms"], "properties": {"dwell_ms": {"type": "integer"}}},
    ]
}
_PURCHASE_RULE = {
    "anyOf": [
        {
            "properties": {
                "type": {"enum": ["purchase"]},
                "order_id": {"type": "string"},
                "amount_cents": {"type": "integer"},
            },
            "required": ["order_id", "amount_cents"],
        },
        {
            "properties": {
                "type": {"not": {"enum": ["purchase"]}},
                "order_id": {"type": "null"},
                "amount_cents": {"type": "null"},
            }
        },
    ]
}


class EngagementBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[Engagement], msgspec.Meta(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]

    openapi_rules: ClassVar[dict[str, Any]] = {
        "properties": {"events": {"items": {"allOf": [_DWELL_RULE, _PURCHASE_RULE]}}}
    }


class ReportRefused(DomainError):
    """The caller may not report these events (details: the `index` of the first)."""

    code = "forbidden"


class RateLimited(DomainError):
    """The caller reported too many events (details: `retry_after_s`)."""

    code = "rate_limited"


class EventsNotSent(DomainError):
    """Some events were not acknowledged: the batch is to be retried."""

    code = "unavailable"


class InvalidEngagement(ValueError):
    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field


def canonical_id(text: str) -> bool:
    """A decimal id as this API writes it: ASCII digits, no leading zero, below 2^63."""
    return (
        text.isascii()
        and text.isdigit()
        and not text.startswith("0")
        and len(text) <= 19
        and int(text) < 1 << 63
    )


def check_engagement(events: list[Engagement], now: datetime) -> None:
    """Rules beyond the schema: canonical ids, a time near `now`, dwell carries dwell_ms,
    a purchase (and only a purchase) its order and amount."""
    for index, event in enumerate(events):
        for name in ("user_id", "account_id", "post_id"):
            value = getattr(event, name)
            if value is not None and not canonical_id(value):
                raise InvalidEngagement(index, name, f"{name} must be a canonical decimal id")
        if event.at is not None and event.at.tzinfo is None:
            raise InvalidEngagement(index, "at", "time needs an offset (e.g. Z)")
        if event.at is not None and abs(event.at - now) > MAX_CLOCK_SKEW:
            raise InvalidEngagement(index, "at", "at must lie within 5 minutes of now")
        if event.type == "dwell" and event.dwell_ms is None:
            raise InvalidEngagement(index, "dwell_ms", "a dwell event needs dwell_ms")
        for name in ("order_id", "amount_cents"):
            if event.type == "purchase" and getattr(event, name) is None:
                raise InvalidEngagement(index, name, "a purchase needs order_id and amount_cents")
            if event.type != "purchase" and getattr(event, name) is not None:
                raise InvalidEngagement(index, name, f"only a purchase carries {name}")
        if event.order_id is not None and not ORDER_ID.fullmatch(event.order_id):
            raise InvalidEngagement(index, "order_id", "order_id must be 1-64 of [A-Za-z0-9_.:-]")
