"""In-memory fakes of insights' ports (services.insights.ports), after cosmicpython's
FakeUnitOfWork: one FakeInsights holds what Postgres and Redis would, and a transaction
that raises leaves it as it was."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from services.insights.domain import AccountCounts
from services.insights.tally import EngagementTally
from shared.events import AccountChanged, FollowChanged, PostInteraction


class FakeInsights:
    """The ingest store, stats, rankings and flagged follows at once."""

    def __init__(self) -> None:
        self.event_ids: set[str] = set()
        self.orders: set[str] = set()
        self.user_day: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.post_user: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.dirty: set[int] = set()
        self.follow_log: list[FollowChanged] = []
        self.accounts: dict[int, AccountChanged] = {}
        self.posts: dict[int, tuple[int, date, bool]] = {}
        self.likes: set[tuple[int, int]] = set()
        self.participants: set[tuple[int, int]] = set()  # (post, user) in a group buy
        self.ranked: list[dict[str, Any]] = []  # the official ranking, best first
        self.forgotten: list[int] = []
        self.flagged: list[dict[str, Any]] = []
        self.fail_writes = False  # the next transaction raises before it commits

    # ------------------------------------------------------------ ingest

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[FakeInsights]:
        saved = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "ranked"})
        try:
            yield self
            if self.fail_writes:
                raise ConnectionError("the commit failed")
        except BaseException:
            self.__dict__.update(saved)
            raise

    async def claim_events(self, event_ids: list[str]) -> set[str]:
        fresh = set(event_ids) - self.event_ids
        self.event_ids |= fresh
        return fresh

    async def claim_orders(self, order_ids: list[str]) -> set[str]:
        fresh = set(order_ids) - self.orders
        self.orders |= fresh
        return fresh

    async def add_engagement(self, tally: EngagementTally) -> None:
        for key, counters in tally.user_day.items():
            for name, n in counters.items():
                self.user_day[key][name] += n
        for post_user, counters in tally.post_user.items():
            for name, n in counters.items():
                self.post_user[post_user][name] += n
        self.dirty |= tally.accounts()

    async def log_follows(self, follows: list[FollowChanged]) -> None:
        self.follow_log.extend(follows)

    async def put_accounts(self, accounts: list[AccountChanged]) -> None:
        for a in accounts:
            known = self.accounts.get(int(a.account_id))
            if known is None or known.version < a.version:
                self.accounts[int(a.account_id)] = a
            self.dirty.add(int(a.account_id))

    async def put_post(self, post_id: int, account_id: int, day: date, deleted: bool) -> None:
        before = self.posts.get(post_id)
        self.posts[post_id] = (account_id, day, deleted or bool(before and before[2]))

    async def apply_interaction(self, interaction: PostInteraction) -> None:
        pair = (int(interaction.post_id), int(interaction.user_id))
        if interaction.action == "like":
            self.likes.add(pair)
        elif interaction.action == "unlike":
            self.likes.discard(pair)

    async def set_group_buy_participant(self, post_id: int, user_id: int, joined: bool) -> None:
        if joined:
            self.participants.add((post_id, user_id))
        else:
            self.participants.discard((post_id, user_id))

    async def group_buy_participants(self, post_id: int) -> list[int]:
        return sorted(u for p, u in self.participants if p == post_id)

    # ------------------------------------------------------------ reads

    async def account_known(self, account_id: int) -> bool:
        return account_id in self.accounts

    async def post_author(self, post_id: int) -> int | None:
        return self.posts[post_id][0] if post_id in self.posts else None

    async def account_counts(self, account_id: int, first: date, last: date) -> AccountCounts:
        engagement: dict[date, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        for (account, day, _user), row in self.user_day.items():
            if account == account_id and first <= day <= last:
                e = engagement[day]
                for name, n in row.items():
                    e[name] += n
                e["unique_visitors"] += row["views"] > 0
                e["reach"] += row["impressions"] > 0
                e["buyers"] += row["purchases"] > 0
        posts: dict[date, int] = defaultdict(int)
        for author, day, _deleted in self.posts.values():
            if author == account_id and first <= day <= last:
                posts[day] += 1
        return AccountCounts(engagement, {}, {}, posts, {}, 0)

    async def post_totals(self, post_id: int) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for (post, _user), row in self.post_user.items():
            if post == post_id:
                for name, n in row.items():
                    totals[name] += n
        totals["likes"] = sum(1 for p, _ in self.likes if p == post_id)
        return dict(totals)

    async def top(self, category: str | None, count: int) -> list[dict[str, Any]]:
        listed = [r for r in self.ranked if category in (None, r["account"]["category"])]
        return listed[:count]

    async def forget(self, account_ids: Sequence[int]) -> None:
        self.forgotten.extend(account_ids)

    async def page(
        self, account_id: int | None, after: list[int] | None, limit: int
    ) -> tuple[list[dict[str, Any]], list[int] | None]:
        return self.flagged[:limit], None


class FakeRelations:
    """Relations as given: the user's sources, Swing lists, co-follows, who may be shown."""

    def __init__(self) -> None:
        self.sources_of: dict[int, list[tuple[int, str]]] = {}
        self.swing: dict[int, list[int]] = {}
        self.co_followed: dict[int, list[tuple[int, int]]] = {}
        self.hidden: set[int] = set()  # followed, suspended, consumers
        self.follows: dict[int, set[str]] = defaultdict(set)  # user -> accounts followed

    async def followed(self, user_id: int) -> set[str]:
        return set(self.follows[user_id])

    async def sources(self, user_id: int, count: int) -> list[tuple[int, str]]:
        return self.sources_of.get(user_id, [])[:count]

    async def related(self, account_ids: list[int], count: int) -> list[list[int]]:
        return [self.swing.get(a, [])[:count] for a in account_ids]

    async def co_follows(self, user_id: int, count: int) -> list[tuple[int, int]]:
        return self.co_followed.get(user_id, [])[:count]

    async def recommendable(self, user_id: int, account_ids: list[int]) -> dict[int, dict]:
        return {a: {"id": str(a)} for a in account_ids if a not in self.hidden and a != user_id}
