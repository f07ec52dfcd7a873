"""What a batch of engagement events adds, with no I/O: per (account, Shanghai day,
user) and per (post, user) counters, each user's first activity, and the favourites and
purchases Swing relates sellers by; and the purchases a succeeded group buy stands for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from services.insights.domain import POST_COUNTERS, increment_of, shanghai_day
from shared.events import EngagementRecorded, GroupBuyDecided
from shared.timeutil import parse_rfc3339

USER_DAY_COUNTERS = (
    "impressions",
    "views",
    "dwell_ms",
    "dwell_reports",
    "clicks",
    "favorites",
    "purchases",
    "gmv_cents",
    "shares",
)
POST_USER_COUNTERS = (*POST_COUNTERS, "gmv_cents")
SWING_KINDS = ("favorite", "purchase")  # engagement that says "I like this seller"
GROUP_BUY_ORDER = "group_buy:{post_id}:{user_id}"  # one purchase per participant of a buy


def _zeros(names: tuple[str, ...]) -> defaultdict:
    return defaultdict(lambda: dict.fromkeys(names, 0))


@dataclass
class EngagementTally:
    """Counter increments keyed as stored: user_day (account, day, user), post_user
    (post, user); first activity per user; newest favourite/purchase per (user, account,
    kind)."""

    user_day: dict[tuple[int, date, int], dict[str, int]] = field(
        default_factory=lambda: _zeros(USER_DAY_COUNTERS)
    )
    post_user: dict[tuple[int, int], dict[str, int]] = field(
        default_factory=lambda: _zeros(POST_USER_COUNTERS)
    )
    first_seen: dict[int, datetime] = field(default_factory=dict)
    liked: dict[tuple[int, int, str], datetime] = field(default_factory=dict)

    def accounts(self) -> set[int]:
        """The accounts whose numbers this tally moves."""
        return {account for account, _, _ in self.user_day}


def tally(events: Iterable[EngagementRecorded]) -> EngagementTally:
    """Adds up `events` (already deduplicated: each one counts)."""
    out = EngagementTally()
    for e in events:
        at = parse_rfc3339(e.at)
        user, account = int(e.user_id), int(e.account_id)
        inc = increment_of(e.action, e.dwell_ms, e.amount_cents, e.source)
        row = out.user_day[(account, shanghai_day(at), user)]
        if inc.counter:
            row[inc.counter] += 1
        if e.dwell_ms is not None:
            row["dwell_ms"] += inc.dwell_ms
            row["dwell_reports"] += 1
        row["gmv_cents"] += inc.gmv_cents
        if e.post_id is not None and inc.counter in POST_COUNTERS:
            post_row = out.post_user[(int(e.post_id), user)]
            post_row[inc.counter] += 1
            post_row["gmv_cents"] += inc.gmv_cents
        out.first_seen[user] = min(at, out.first_seen.get(user, at))
        if e.action in SWING_KINDS:
            key = (user, account, e.action)
            out.liked[key] = max(at, out.liked.get(key, at))
    return out


def group_buy_purchases(
    decided: GroupBuyDecided, participants: Iterable[int]
) -> list[EngagementRecorded]:
    """A succeeded buy is one purchase of `price_cents` by each participant, at the
    moment it was decided, with an order id of its own (so it counts once however often
    the decision comes); a failed buy sold nothing."""
    if decided.state != "succeeded":
        return []
    return [
        EngagementRecorded(
            action="purchase",
            user_id=str(user),
            account_id=decided.account_id,
            post_id=decided.post_id,
            at=decided.decided_at,
            order_id=GROUP_BUY_ORDER.format(post_id=decided.post_id, user_id=user),
            amount_cents=decided.price_cents,
        )
        for user in participants
    ]
