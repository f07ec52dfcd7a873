"""A publish checks the body, the author and the quota before it pays for the near-copy
fingerprint (56–70 ms of CPU on a long text): refused requests stay cheap. And since
those checks read a lagging copy of the account, a suspension learnt late names the
time in which posts were accepted that should not have been."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from services.publishing import domain, similarity
from services.publishing.publish import Publisher
from shared.events import AccountChanged
from shared.ids import IdGenerator

NOW = datetime(2031, 3, 1, 4, 0, tzinfo=UTC)
LIMIT = 3
SHOP, FAN, BANNED, STRANGER = 1, 2, 3, 4


class FakeStore:
    """Authors and post counts in memory, with the store's checks (domain rules)."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.authors = {SHOP: ("seller", "active"), FAN: ("consumer", "active")}
        self.authors[BANNED] = ("seller", "suspended")
        self.used: dict[int, int] = {}

    def _check(self, account_id: int, now: datetime, daily_limit: int) -> int:
        kind, status = self.authors.get(account_id, (None, None))
        domain.check_author(kind, status)
        used = self.used.get(account_id, 0)
        domain.check_quota(used, daily_limit, now)
        return used

    async def check_may_publish(self, account_id: int, now: datetime, daily_limit: int) -> None:
        self.steps.append("check")
        await asyncio.sleep(0)  # a database round trip: other requests run meanwhile
        self._check(account_id, now, daily_limit)

    async def publish(
        self,
        post_id: int,
        account_id: int,
        new: domain.NewPost,
        now: datetime,
        daily_limit: int,
        fingerprint: similarity.Fingerprint | None,
    ) -> tuple[dict[str, Any], int]:
        self.steps.append("insert")
        await asyncio.sleep(0)
        used = self._check(account_id, now, daily_limit) + 1
        self.used[account_id] = used
        return {"id": post_id}, used


@pytest.fixture
def steps() -> list[str]:
    return []


@pytest.fixture
def publisher(steps: list[str]) -> Publisher:
    def spy_fingerprint(title: str, body: str) -> similarity.Fingerprint | None:
        steps.append("fingerprint")
        return similarity.fingerprint(title, body)

    return Publisher(FakeStore(steps), IdGenerator(worker=7), LIMIT, spy_fingerprint)


def post(**fields: Any) -> domain.NewPost:
    body = {"kind": "article", "title": "新品上架", "body": "今天上新的竹编收纳篮，手工编织。"}
    return msgspec.convert({**body, **fields}, domain.NewPost)


async def test_an_accepted_post_is_checked_then_fingerprinted_then_inserted(publisher, steps):
    _, used = await publisher.publish(SHOP, post(), NOW)
    assert used == 1
    assert steps == ["check", "fingerprint", "insert"]


@pytest.mark.parametrize(
    ("account_id", "refusal"),
    [
        (STRANGER, domain.AuthorNotFound),
        (FAN, domain.NotAnOperator),
        (BANNED, domain.AccountSuspended),
    ],
)
async def test_a_refused_author_never_costs_a_fingerprint(publisher, steps, account_id, refusal):
    with pytest.raises(refusal):
        await publisher.publish(account_id, post(), NOW)
    assert "fingerprint" not in steps


async def test_an_invalid_body_is_refused_before_anything_else(publisher, steps):
    with pytest.raises(domain.InvalidPost):
        await publisher.publish(SHOP, post(kind="vote"), NOW)
    assert steps == []


async def test_over_the_quota_never_costs_a_fingerprint(publisher, steps):
    for _ in range(LIMIT):
        await publisher.publish(SHOP, post(), NOW)
    steps.clear()
    with pytest.raises(domain.DailyQuotaExceeded):
        await publisher.publish(SHOP, post(), NOW)
    assert "fingerprint" not in steps


async def test_a_burst_of_one_account_fingerprints_only_the_posts_it_accepts(publisher, steps):
    results = await asyncio.gather(
        *(publisher.publish(SHOP, post(), NOW) for _ in range(12)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, domain.DailyQuotaExceeded)]
    assert (len(accepted), len(refused)) == (LIMIT, 12 - LIMIT)
    assert steps.count("fingerprint") == LIMIT


def change(status: str, version: int, minutes: int) -> domain.AccountChange:
    event = AccountChanged(
        account_id=str(SHOP),
        handle="shop",
        kind="seller",
        display_name="店",
        category="home",
        status=status,
        created_at="2031-03-01T00:00:00.000Z",
        change=status,
        version=version,
    )
    return domain.AccountChange(event, NOW + timedelta(minutes=minutes))


def test_a_suspension_learnt_late_covers_everything_since_it_was_made():
    windows = domain.suspension_windows([change("suspended", 2, 5)], {SHOP: 1})
    assert windows == [domain.SuspensionWindow(SHOP, NOW + timedelta(minutes=5), None)]


def test_a_suspension_lifted_later_in_the_batch_ends_there():
    changes = [change("suspended", 2, 5), change("active", 3, 9), change("suspended", 4, 12)]
    assert domain.suspension_windows(changes, {SHOP: 1}) == [
        domain.SuspensionWindow(SHOP, NOW + timedelta(minutes=5), NOW + timedelta(minutes=9)),
        domain.SuspensionWindow(SHOP, NOW + timedelta(minutes=12), None),
    ]


def test_changes_publishing_already_applied_retract_nothing_again():
    changes = [change("suspended", 2, 5), change("active", 3, 9)]
    assert domain.suspension_windows(changes, {SHOP: 3}) == []
    assert domain.suspension_windows([change("suspended", 2, 5)], {SHOP: 2}) == []
