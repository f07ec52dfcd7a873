"""A notifications service on a scratch schema of the real Postgres (the service's
migrations and store), with readers and event builders, for the notification-group
tests (fixture `schema`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import msgspec
import pytest

from services.notifications.domain import (
    Change,
    Delivered,
    change_of_follow,
    change_of_interaction,
)
from services.notifications.reads import NotificationReader
from services.notifications.service import Group, NotificationService
from services.notifications.store import NotificationStore
from shared.events import (
    AccountChanged,
    FollowChanged,
    PostInteraction,
)
from shared.timeutil import rfc3339
from tests.support import scratch_schema

OWNER, POST = 5, 11
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class Scratch(NotificationService):
    """The use cases over the real store and reads of a scratch schema."""

    def __init__(self, pool) -> None:
        self.store = NotificationStore(pool)
        super().__init__(self.store, NotificationReader(pool), accounts_wait_s=1.0)
        self.pool = pool


class Reads:
    """The service's reads with each group as a dict, as the API shows it."""

    def __init__(self, service: NotificationService) -> None:
        self.service = service
        self.unread_count = service.unread_count
        self.mark_read = service.mark_read

    async def page(self, recipient: int, after, limit: int) -> list[dict]:
        return [as_dict(g) for g in await self.service.page(recipient, after, limit)]


def as_dict(group: Group) -> dict:
    found = dict(group.__dict__)
    found["sample_accounts"] = [msgspec.structs.asdict(s) for s in group.sample_accounts]
    return found


@pytest.fixture
async def schema(stack) -> AsyncIterator[tuple[Scratch, Reads]]:
    dsn = stack.str("WEITAO_POSTGRES_DSN")
    async with scratch_schema(dsn, "notifications", max_size=10) as (_, pool):
        service = Scratch(pool)
        yield service, Reads(service)


def interaction(action: str, user: int, at: datetime = T0, **extra) -> Change:
    event = PostInteraction(
        post_id=str(POST),
        account_id=str(OWNER),
        user_id=str(user),
        action=action,
        at=rfc3339(at),
        **extra,
    )
    change = change_of_interaction(event)
    assert change is not None
    return change


def follow(user: int, following: bool, version: int, at: datetime = T0) -> Change:
    return change_of_follow(
        FollowChanged(
            user_id=str(user),
            account_id=str(OWNER),
            following=following,
            source="qr",
            version=version,
            at=rfc3339(at),
        )
    )


def delivered(*changes: Change) -> list[Delivered]:
    return [Delivered(uuid.uuid4().hex, [c]) for c in changes]


async def known(store: Scratch, *users: int) -> None:
    await store.apply_accounts(
        [
            AccountChanged(
                account_id=str(u),
                handle=f"fan_{u}",
                kind="consumer",
                display_name=f"Fan {u}",
                category=None,
                status="active",
                created_at=rfc3339(T0),
                change="created",
                version=1,
            )
            for u in users
        ]
    )


async def groups(reader: Reads, limit: int = 100) -> list[dict]:
    return await reader.page(OWNER, None, limit)
