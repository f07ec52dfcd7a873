"""Insights' ports: what its use cases (services.insights.service) need of storage.
store.py implements the ingest side on Postgres, stats_store.py, official.py,
associated.py and suspicion.py the reads; tests/unit/fakes_insights.py holds in-memory
fakes of all of them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any, Protocol

from services.insights.domain import AccountCounts
from services.insights.tally import EngagementTally
from shared.events import AccountChanged, FollowChanged, PostInteraction


class IngestTransaction(Protocol):
    """What applying one batch of events reads and writes, all in one transaction."""

    async def claim_events(self, event_ids: list[str]) -> set[str]:
        """Claims the ids; those never claimed before."""
        ...

    async def claim_orders(self, order_ids: list[str]) -> set[str]:
        """Claims the purchase orders; those never counted before."""
        ...

    async def add_engagement(self, tally: EngagementTally) -> None:
        """Adds the tally to the counters and marks its accounts dirty for the ranking."""
        ...

    async def log_follows(self, follows: list[FollowChanged]) -> None:
        """Logs each change, keeps each pair's newest state, notes follows for the judge."""
        ...

    async def put_accounts(self, accounts: list[AccountChanged]) -> None:
        """Keeps each account's newest version, marks it dirty and has its follows as a
        follower judged again (their facts are known now)."""
        ...

    async def put_post(self, post_id: int, account_id: int, day: date, deleted: bool) -> None:
        """Records a published post on its Shanghai day; `deleted` marks it deleted."""
        ...

    async def apply_interaction(self, interaction: PostInteraction) -> None:
        """Likes, comments and votes as sets (like, unlike, comment, uncomment, vote)."""
        ...

    async def set_group_buy_participant(self, post_id: int, user_id: int, joined: bool) -> None:
        """Adds (`joined`) or removes a participant of the post's group buy."""
        ...

    async def group_buy_participants(self, post_id: int) -> list[int]:
        """The group buy's participants now, in id order."""
        ...


class IngestStore(Protocol):
    def writing(self) -> AbstractAsyncContextManager[IngestTransaction]:
        """One transaction: all of a batch's effects commit together, or none."""
        ...


class StatsSource(Protocol):
    """The counts operator data is assembled from."""

    async def account_known(self, account_id: int) -> bool:
        """Whether the account's event has reached insights."""
        ...

    async def post_author(self, post_id: int) -> int | None:
        """The author of a post insights knows; None for one it does not."""
        ...

    async def account_counts(self, account_id: int, first: date, last: date) -> AccountCounts:
        """The account's stored counts per Shanghai day from `first` to `last`."""
        ...

    async def post_totals(self, post_id: int) -> dict[str, int]:
        """API.md's post stats: engagement totals and the interactions standing now."""
        ...


class Rankings(Protocol):
    """The official ranking as served."""

    async def top(self, category: str | None, count: int) -> list[dict[str, Any]]:
        """The best `count` listed accounts (of one category, or all), with their details."""
        ...

    async def forget(self, account_ids: Sequence[int]) -> None:
        """Takes the accounts that are not active now out of every list."""
        ...


class Relations(Protocol):
    """What associated recommendations are built from."""

    async def followed(self, user_id: int) -> set[str]:
        """Ids of the accounts the user follows now."""
        ...

    async def sources(self, user_id: int, count: int) -> list[tuple[int, str]]:
        """The user's newest favourited or bought-from sellers: (account, kind)."""
        ...

    async def related(self, account_ids: list[int], count: int) -> list[list[int]]:
        """For each account, its `count` most related accounts by Swing, best first."""
        ...

    async def co_follows(self, user_id: int, count: int) -> list[tuple[int, int]]:
        """Accounts followed by people who follow what the user follows, most shared
        first, with the followed account that led there: (account, via)."""
        ...

    async def recommendable(self, user_id: int, account_ids: list[int]) -> dict[int, dict]:
        """Of the accounts, those active, not consumers, not the user and not followed
        by the user: their API view by id."""
        ...


class FlaggedFollows(Protocol):
    async def page(
        self, account_id: int | None, after: list[int] | None, limit: int
    ) -> tuple[list[dict[str, Any]], list[int] | None]:
        """Flagged follows by (account, follower) after the position; the next position."""
        ...
