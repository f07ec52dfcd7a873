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

from services.publishing import domain, new_post, similarity
from services.publishing.service import PostService
from tests.events import seller_changed
from tests.unit.fakes_publishing import FakeIds, FakePostRepository

NOW = datetime(2031, 3, 1, 4, 0, tzinfo=UTC)
LIMIT = 3
SHOP, FAN, BANNED, STRANGER = 1, 2, 3, 4


@pytest.fixture
def repo() -> FakePostRepository:
    return FakePostRepository(
        {
            SHOP: domain.Author("seller", "home", "active"),
            FAN: domain.Author("consumer", None, "active"),
            BANNED: domain.Author("seller", "home", "suspended"),
        }
    )


@pytest.fixture
def steps(repo: FakePostRepository) -> list[str]:
    return repo.steps


@pytest.fixture
def publisher(repo: FakePostRepository, steps: list[str]) -> PostService:
    def spy_fingerprint(title: str, body: str) -> similarity.Fingerprint | None:
        steps.append("fingerprint")
        return similarity.fingerprint(title, body)

    return PostService(repo, FakeIds(), LIMIT, lambda: NOW, spy_fingerprint)


def post(**fields: Any) -> new_post.NewPost:
    body = {"kind": "article", "title": "新品上架", "body": "今天上新的竹编收纳篮，手工编织。"}
    return msgspec.convert({**body, **fields}, new_post.NewPost)


async def test_an_accepted_post_is_checked_then_fingerprinted_then_inserted(publisher, steps):
    done = await publisher.publish(SHOP, post())
    assert done.used == 1
    assert steps == ["read author", "fingerprint", "lock author", "insert"]


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
        await publisher.publish(account_id, post())
    assert "fingerprint" not in steps


async def test_an_invalid_body_is_refused_before_anything_else(publisher, steps):
    with pytest.raises(domain.InvalidPost):
        await publisher.publish(SHOP, post(kind="vote"))
    assert steps == []


async def test_over_the_quota_never_costs_a_fingerprint(publisher, steps):
    for _ in range(LIMIT):
        await publisher.publish(SHOP, post())
    steps.clear()
    with pytest.raises(domain.DailyQuotaExceeded):
        await publisher.publish(SHOP, post())
    assert "fingerprint" not in steps


async def test_a_burst_of_one_account_fingerprints_only_the_posts_it_accepts(publisher, steps):
    results = await asyncio.gather(
        *(publisher.publish(SHOP, post()) for _ in range(12)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, domain.DailyQuotaExceeded)]
    assert (len(accepted), len(refused)) == (LIMIT, 12 - LIMIT)
    assert steps.count("fingerprint") == LIMIT


def change(status: str, version: int, minutes: int) -> domain.AccountChange:
    event = seller_changed(
        SHOP,
        status,
        version,
        change=status,
        category="home",
        created_at="2031-03-01T00:00:00.000Z",
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
