"""Feedread's ports: what its use cases (services.feedread.service) need of Redis and
Kafka. services.feedread.store and .engagement implement the Redis ones, .producer the
Kafka one; tests/fakes/feedread.py holds in-memory fakes of all three."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

from services.feedread.domain import Position, ReadAhead, Visit
from services.feedread.merge import Entry
from shared.events import Contract


class FeedSource(Protocol):
    """Feeds, timelines and feedread's projections of posts, accounts and follows."""

    async def touch(self, user_id: int, ahead: ReadAhead | None = None) -> Visit:
        """Marks the user active (pending a rebuild if they were not); what it found, and
        what read_after would give for `ahead` (Visit.ahead), read in the same trip."""
        ...

    async def knows(self, account_id: int) -> bool:
        """Whether feedread's projection holds the account (a known one is cached)."""
        ...

    async def pull_accounts(self) -> set[str]:
        """The accounts whose timelines are merged at read time (cached briefly)."""
        ...

    async def read_after(
        self, keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        """For each key, its first `count` entries strictly after `after` with a score
        of at least `floor`, newest first."""
        ...

    async def posts(self, members: list[bytes]) -> Sequence[Mapping[str, Any] | None]:
        """Each post as the API shows it (None: deleted or unknown)."""
        ...

    async def accounts_of(
        self, posts: Sequence[Mapping[str, Any] | None]
    ) -> Mapping[str, Mapping[str, Any] | None]:
        """The author of each post (None: unknown), by account id (cached briefly)."""
        ...


class EngagementLedger(Protocol):
    """Rate windows per caller and the purchase orders already counted."""

    async def charge(self, role: str, sub: str, events: int, per_window: int, window_s: int) -> int:
        """0 when `events` fit the caller's window, else the seconds until it ends."""
        ...

    async def claim_orders(self, order_ids: list[str], claimant: str) -> list[bool]:
        """For each order, whether this claimant is the first to count it."""
        ...

    async def release_orders(self, order_ids: list[str], claimant: str) -> None:
        """Gives back this claimant's claims."""
        ...


class EventSender(Protocol):
    """Events to the other services."""

    async def send(self, contract: Contract) -> Awaitable[object]:
        """Queues one event; the awaitable resolves once it is acknowledged."""
        ...

    async def send_all(self, contracts: Sequence[Contract]) -> list[bool]:
        """Sends every event; for each, whether it was acknowledged in time."""
        ...
