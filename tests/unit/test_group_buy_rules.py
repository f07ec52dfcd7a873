"""Group buy rules (services/publishing/votes_and_buys.py) and use cases (group_buys.py) on an
in-memory repository: validation, joining, leaving, filling and the one outcome."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from services.publishing import domain, new_post, votes_and_buys
from services.publishing.group_buys import GroupBuyService
from shared.timeutil import parse_rfc3339

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def buy_terms(**extra) -> new_post.GroupBuy:
    fields = {
        "item_id": "tea",
        "title": "龙井",
        "price_cents": 9900,
        "original_price_cents": 15900,
        "min_participants": 2,
        "ends_at": NOW + timedelta(days=1),
    } | extra
    return new_post.GroupBuy(**fields)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"price_cents": 15900}, "$.group_buy.price_cents"),
        ({"ends_at": NOW}, "$.group_buy.ends_at"),
        ({"ends_at": NOW + timedelta(days=7, seconds=1)}, "$.group_buy.ends_at"),
        ({"ends_at": datetime(2026, 11, 26)}, "$.group_buy.ends_at"),  # no offset
        ({"min_participants": 5, "max_participants": 4}, "$.group_buy.max_participants"),
    ],
)
def test_a_group_buy_breaking_a_rule_is_refused_naming_the_field(extra, field):
    with pytest.raises(domain.InvalidPost) as refused:
        new_post.check_group_buy(buy_terms(**extra), NOW)
    assert refused.value.details["field"] == field


def test_a_group_buy_ending_exactly_seven_days_ahead_is_accepted():
    new_post.check_group_buy(buy_terms(ends_at=NOW + timedelta(days=7)), NOW)


class FakeBuys:
    """ports.GroupBuyRepository in memory (one post), recording what it publishes."""

    def __init__(self, terms: new_post.GroupBuy, kind: str = "group_buy") -> None:
        self.terms = msgspec.to_builtins(terms)
        self.kind = kind
        self.joined: set[int] = set()
        self.state = "open"
        self.decided: list[tuple[str, int]] = []
        self.events: list[tuple[str, int]] = []

    @asynccontextmanager
    async def writing(self):
        yield self

    async def locked_buy(self, post_id: int) -> votes_and_buys.OpenBuy | None:
        if post_id != 1:
            return None
        return votes_and_buys.OpenBuy(1, 9, self.kind, self.terms, len(self.joined), self.state)

    async def has_joined(self, post_id: int, user_id: int) -> bool:
        return user_id in self.joined

    async def add_participant(self, buy, user_id: int, now) -> int:
        self.joined.add(user_id)
        self.events.append(("group_buy_join", user_id))
        return len(self.joined)

    async def remove_participant(self, buy, user_id: int, now) -> None:
        if user_id in self.joined:
            self.joined.discard(user_id)
            self.events.append(("group_buy_leave", user_id))

    async def due_buys(self, now, limit: int) -> list[votes_and_buys.OpenBuy]:
        ends_at = parse_rfc3339(self.terms["ends_at"])
        due = self.state == "open" and ends_at <= now
        return [await self.locked_buy(1)] if due else []

    async def decide(self, buy, state: str, participants: int, now) -> None:
        if self.state == "open":
            self.state = state
            self.decided.append((state, participants))


def service(buys: FakeBuys, now: datetime = NOW) -> GroupBuyService:
    return GroupBuyService(buys, lambda: now)


async def test_joining_twice_counts_once_and_leaving_twice_once():
    buys = FakeBuys(buy_terms())
    for _ in range(2):
        await service(buys).join(1, 7)
    assert buys.joined == {7}
    for _ in range(2):
        await service(buys).leave(1, 7)
    assert buys.events == [("group_buy_join", 7), ("group_buy_leave", 7)]


async def test_the_join_that_fills_a_buy_decides_it_and_the_next_is_refused():
    buys = FakeBuys(buy_terms(max_participants=2))
    await service(buys).join(1, 1)
    await service(buys).join(1, 2)
    assert buys.decided == [("succeeded", 2)]
    with pytest.raises(domain.GroupBuyClosed):
        await service(buys).join(1, 3)
    with pytest.raises(domain.GroupBuyClosed):
        await service(buys).leave(1, 1)


async def test_at_its_end_a_buy_short_of_its_minimum_fails_once():
    buys = FakeBuys(buy_terms())
    await service(buys).join(1, 1)
    later = NOW + timedelta(days=2)
    assert await service(buys, later).settle_due() == 1
    assert await service(buys, later).settle_due() == 0
    assert buys.decided == [("failed", 1)]
    with pytest.raises(domain.GroupBuyClosed):
        await service(buys, later).join(1, 2)


async def test_a_join_of_a_post_that_is_not_a_group_buy_or_is_gone_is_refused():
    with pytest.raises(domain.NotAGroupBuy):
        await service(FakeBuys(buy_terms(), kind="article")).join(1, 1)
    with pytest.raises(domain.PostNotFound):
        await service(FakeBuys(buy_terms())).join(2, 1)
