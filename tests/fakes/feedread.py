"""In-memory fakes of feedread's ports (services.feedread.ports): sorted sets, posts,
accounts and follows in dicts; a rate ledger and order claims; a list of sent events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.feedread.domain import Position, ReadAhead, Visit, comes_after
from services.feedread.merge import Entry
from shared.events import Contract
from shared.feedstore.keys import feed_key, timeline_key


@dataclass
class FakeFeedSource:
    """Sorted sets by key ({member: score}), posts (None: deleted) and accounts by id,
    and each user's follows (account id -> version, negative: unfollowed)."""

    sets: dict[str, dict[bytes, int]] = field(default_factory=dict)
    posts_by_id: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    following: dict[int, dict[str, int]] = field(default_factory=dict)
    ready: set[int] = field(default_factory=set)  # users whose feed is materialized
    pending: set[int] = field(default_factory=set)  # users marked active, not yet ready
    pulled: set[str] = field(default_factory=set)

    def author(self, account_id: str, status: str = "active") -> None:
        self.accounts[account_id] = {
            "id": account_id,
            "handle": f"h{account_id}",
            "kind": "seller",
            "display_name": "店",
            "category": "beauty",
            "status": status,
        }

    def post(self, post_id: int, account_id: str, ms: int, category: str = "beauty") -> None:
        """A post in its author's timelines and feedread's projection."""
        self.posts_by_id[str(post_id)] = {
            "id": str(post_id),
            "account_id": account_id,
            "category": category,
        }
        for key in (timeline_key(account_id), timeline_key(account_id, category)):
            self.sets.setdefault(key, {})[str(post_id).encode()] = ms

    def push(self, user_id: int, post_id: int, ms: int, category: str = "beauty") -> None:
        """The post in the user's materialized feeds, as fanout writes it."""
        for key in (feed_key(user_id), feed_key(user_id, category)):
            self.sets.setdefault(key, {})[str(post_id).encode()] = ms

    async def touch(self, user_id: int, ahead: ReadAhead | None = None) -> Visit:
        if user_id not in self.ready:
            self.pending.add(user_id)
        read = None
        if ahead is not None:
            read = (
                ahead,
                (await self.read_after([ahead.key], ahead.after, ahead.count, ahead.floor))[0],
            )
        return Visit(user_id in self.ready, dict(self.following.get(user_id, {})), read)

    async def knows(self, account_id: int) -> bool:
        return str(account_id) in self.accounts

    async def pull_accounts(self) -> set[str]:
        return set(self.pulled)

    async def read_after(
        self, keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        found = []
        for key in keys:
            held = sorted(
                ((score, member) for member, score in self.sets.get(key, {}).items()),
                reverse=True,
            )
            found.append(
                [(s, m) for s, m in held if s >= floor and comes_after(m, s, after)][:count]
            )
        return found

    async def posts(self, members: list[bytes]) -> list[dict[str, Any] | None]:
        return [self.posts_by_id.get(m.decode()) for m in members]

    async def accounts_of(
        self, posts: list[dict[str, Any] | None]
    ) -> dict[str, dict[str, Any] | None]:
        return {p["account_id"]: self.accounts.get(p["account_id"]) for p in posts if p}


@dataclass
class FakeEngagementLedger:
    """Events charged per caller in one window of `per_window`; orders claimed once."""

    charged: dict[tuple[str, str], int] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)
    retry_after_s: int = 30

    async def charge(self, role: str, sub: str, events: int, per_window: int, window_s: int) -> int:
        count = self.charged[role, sub] = self.charged.get((role, sub), 0) + events
        return 0 if count <= per_window else self.retry_after_s

    async def claim_orders(self, order_ids: list[str], claimant: str) -> list[bool]:
        won = []
        for order_id in order_ids:
            won.append(order_id not in self.claims)
            self.claims.setdefault(order_id, claimant)
        return won

    async def release_orders(self, order_ids: list[str], claimant: str) -> None:
        for order_id in order_ids:
            if self.claims.get(order_id) == claimant:
                del self.claims[order_id]


@dataclass
class FakeEventSender:
    """Keeps what it is sent; `unacknowledged` events (by position in a batch) fail."""

    sent: list[Contract] = field(default_factory=list)
    unacknowledged: set[int] = field(default_factory=set)
    down: bool = False  # send raises, as a producer without a broker

    async def send(self, contract: Contract) -> asyncio.Future[None]:
        if self.down:
            raise ConnectionError("Kafka is away (test)")
        self.sent.append(contract)
        acknowledged = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    async def send_all(self, contracts: Sequence[Contract]) -> list[bool]:
        acknowledged = [n not in self.unacknowledged for n in range(len(contracts))]
        self.sent.extend(c for c, ok in zip(contracts, acknowledged, strict=True) if ok)
        return acknowledged
