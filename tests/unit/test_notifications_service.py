"""Notifications' use cases on in-memory fakes, no servers: grouping by (kind, post) within
12 hours, an unlike or unfollow taking the actor out, a re-like counted once, exactly once
by envelope id, group-buy outcomes, deleted posts out of sight, the read mark, and the
projections rule (a bounded wait, then 503 not_ready with Retry-After)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.notifications import api
from services.notifications.domain import (
    AccountsNotKnown,
    Change,
    Decision,
    Delivered,
    Participation,
)
from services.notifications.service import NotificationService
from shared.auth import mint_token
from shared.config import Secret
from shared.events import AccountChanged, PostDeleted
from shared.web import build_app
from tests.unit.fakes_notifications import FakeNotifications

OWNER, POST = 5, 11
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SECRET = "unit-test-secret-0123456789-0123456789"


@pytest.fixture
def fake() -> FakeNotifications:
    return FakeNotifications()


@pytest.fixture
def service(fake: FakeNotifications) -> NotificationService:
    return NotificationService(fake, fake, accounts_wait_s=0.2)


def like(user: int, at: datetime = T0, step: str = "set", post: int = POST) -> Change:
    return Change(OWNER, "liked", post, user, at, step)  # type: ignore[arg-type]


def follow(user: int, version: int, following: bool = True) -> Change:
    step = "set" if following else "unset"
    return Change(OWNER, "followed", 0, user, T0, step, version=version, source="qr")  # type: ignore[arg-type]


def once(*effects) -> Delivered:
    return Delivered(uuid.uuid4().hex, list(effects))


async def known(service: NotificationService, *ids: int) -> None:
    await service.apply_accounts(
        [
            AccountChanged(
                account_id=str(i),
                handle=f"u{i}",
                kind="consumer",
                display_name=f"U {i}",
                category=None,
                status="active",
                created_at="2026-11-25T00:00:00.000Z",
                change="created",
                version=1,
            )
            for i in ids
        ]
    )


async def counts(service: NotificationService, recipient: int = OWNER) -> list[tuple[str, int]]:
    return [(g.kind, g.count) for g in await service.page(recipient, None, 100)]


async def test_likes_of_one_post_group_together_until_the_group_spans_twelve_hours(service):
    await known(service, 1, 2, 3, 4)
    await service.apply([once(like(1)), once(like(2, T0 + timedelta(hours=11)))])
    await service.apply([once(like(3, T0 + timedelta(hours=12))), once(like(4, post=POST + 1))])
    newest, *_ = groups = await service.page(OWNER, None, 100)
    assert [(g.post_id, g.count) for g in groups] == [
        (str(POST), 1),
        (str(POST), 2),
        (str(POST + 1), 1),
    ]
    assert [s.handle for s in groups[1].sample_accounts] == ["u2", "u1"]
    assert newest.first_at == "2026-11-25T20:00:00.000Z"


async def test_an_unlike_takes_the_actor_out_and_a_relike_counts_once(service):
    await known(service, 1, 2)
    await service.apply([once(like(1)), once(like(2)), once(like(1, step="unset"))])
    assert await counts(service) == [("liked", 1)]
    await service.apply([once(like(1)), once(like(1))])
    assert await counts(service) == [("liked", 2)]
    await service.apply([once(like(1, step="unset")), once(like(2, step="unset"))])
    assert await counts(service) == []


async def test_an_unfollow_removes_the_follower_and_an_older_follow_replayed_does_not_undo_it(
    service,
):
    await known(service, 1, 2)
    await service.apply([once(follow(1, 1)), once(follow(2, 1))])
    await service.apply([once(follow(1, 2, following=False))])
    await service.apply([once(follow(1, 1))])  # re-emitted with a new envelope id
    [group] = await service.page(OWNER, None, 10)
    assert (group.kind, group.count, group.post_id) == ("followed", 1, None)
    assert [(s.id, s.source) for s in group.sample_accounts] == [("2", "qr")]


async def test_a_redelivered_envelope_changes_nothing(service, fake):
    await known(service, 1)
    delivered = once(like(1))
    await service.apply([delivered, delivered])
    await service.apply([delivered])
    assert await counts(service) == [("liked", 1)]
    assert fake.locked == [(OWNER, "liked", POST)]  # keys locked only for fresh events


async def test_a_deleted_comment_leaves_the_group_once_the_actors_last_comment_is_gone(service):
    await known(service, 3)

    def comment(comment_id: int, step: str) -> Change:
        return Change(OWNER, "commented", POST, 3, T0, step, comment_id=comment_id)  # type: ignore[arg-type]

    await service.apply([once(comment(1, "add")), once(comment(2, "add"))])
    await service.apply([once(comment(1, "remove")), once(comment(1, "remove"))])
    assert await counts(service) == [("commented", 1)]
    await service.apply([once(comment(2, "remove"))])
    assert await counts(service) == []


async def test_a_buys_outcome_reaches_the_participants_still_in_it(service):
    await known(service, OWNER, 1, 2, 3)
    joins = [once(Participation(POST, user, joined=True)) for user in (1, 2, 3)]
    await service.apply([*joins, once(Participation(POST, 3, joined=False))])
    await service.apply([once(Decision(POST, OWNER, succeeded=True, at=T0))])
    assert await counts(service) == [("group_buy_succeeded", 2)]
    for user in (1, 2):
        [told] = await service.page(user, None, 10)
        assert (told.kind, [s.id for s in told.sample_accounts]) == (
            "group_buy_succeeded",
            [str(OWNER)],
        )
    assert await service.page(3, None, 10) == []


async def test_a_deleted_posts_groups_are_not_shown_nor_counted_unread(service):
    await known(service, 1, 2)
    await service.apply([once(like(1)), once(follow(2, 1))])
    await service.forget_posts([PostDeleted(str(POST), str(OWNER), "home", 0)])
    await service.apply([once(like(2))])  # still in flight when the post went
    assert await counts(service) == [("followed", 1)]
    assert await service.unread_count(OWNER) == 1


async def test_the_read_mark_reads_groups_up_to_it_and_never_moves_back(service):
    await known(service, 1, 2)
    await service.apply([once(like(1)), once(like(2, T0 + timedelta(hours=13)))])
    assert await service.unread_count(OWNER) == 2
    await service.mark_read(OWNER, T0 + timedelta(hours=1))
    await service.mark_read(OWNER, T0)
    assert await service.unread_count(OWNER) == 1
    assert [g.read for g in await service.page(OWNER, None, 10)] == [False, True]


async def test_pages_follow_last_activity_and_never_split_or_repeat_a_group(service):
    await known(service, *range(1, 6))
    await service.apply([once(like(u, T0 + timedelta(hours=u), post=u)) for u in range(1, 6)])
    first = await service.page(OWNER, None, 2)
    second = await service.page(OWNER, first[-1].position, 2)
    third = await service.page(OWNER, second[-1].position, 2)
    assert [g.post_id for g in first + second + third] == ["5", "4", "3", "2", "1"]


async def test_an_actor_not_known_yet_is_waited_for_then_not_ready(service):
    await service.apply([once(like(77))])
    with pytest.raises(AccountsNotKnown) as raised:
        await service.page(OWNER, None, 10)
    assert raised.value.details == {"account_ids": ["77"]}


async def test_the_api_answers_503_not_ready_with_retry_after_for_an_actor_not_known_yet(service):
    await service.apply([once(like(77))])
    app = build_app("notifications", Secret(SECRET), api.ROUTES)
    app[api.SERVICE] = service
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {mint_token(SECRET, OWNER, 'user')}"}
        reply = await client.get(f"/v1/users/{OWNER}/notifications", headers=headers)
        assert reply.status == 503 and reply.headers["Retry-After"] == "1"
        assert (await reply.json())["error"]["code"] == "not_ready"
        await known(service, 77)
        reply = await client.get(f"/v1/users/{OWNER}/notifications", headers=headers)
        assert reply.status == 200
        [group] = (await reply.json())["items"]
        assert (group["kind"], group["count"], group["sample_accounts"][0]["handle"]) == (
            "liked",
            1,
            "u77",
        )
