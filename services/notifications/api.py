"""Notifications HTTP handlers (API.md "notifications"): a user's grouped notifications,
newest first, the unread count, and marking them read. The user itself or a service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from aiohttp import web

from services.notifications.domain import AccountsNotKnown
from services.notifications.service import NotificationService, SampleAccount
from shared.auth import require_actor
from shared.errors import ApiError, validation_error
from shared.pagination import decode_cursor, page, parse_limit
from shared.web import (
    FEED_CURSOR,
    LIMIT,
    Route,
    id_param,
    json_response,
    no_content,
    path_id,
    principal,
    read_body,
)

SERVICE = web.AppKey("notifications_service", NotificationService)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
RETRY_SOON = {"Retry-After": "1"}  # a projection catches up within a second or so


class NotificationGroup(msgspec.Struct):
    id: str
    kind: str  # one of domain.KINDS
    post_id: str | None
    count: int
    sample_accounts: list[SampleAccount]
    first_at: str
    last_at: str
    read: bool


class NotificationPage(msgspec.Struct):
    items: list[NotificationGroup]
    next_cursor: str | None


class UnreadCount(msgspec.Struct):
    count: int


class ReadUpTo(msgspec.Struct, forbid_unknown_fields=True):
    """Marks read every group whose last event is at or before `up_to`."""

    up_to: Annotated[datetime, msgspec.Meta(extra_json_schema={"format": "date-time"})]


def _position(cursor: list[int] | None) -> tuple[datetime, int] | None:
    """(last_at, id) of a cursor [last_at in µs since the epoch, id]; a time past what a
    datetime holds is later than every group."""
    if cursor is None:
        return None
    micros, group_id = cursor
    try:
        return _EPOCH + timedelta(microseconds=micros), group_id
    except OverflowError:
        return _LATEST, group_id


def _cursor_of(last_at: datetime, group_id: int) -> list[int]:
    return [(last_at - _EPOCH) // timedelta(microseconds=1), group_id]


async def notifications(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    limit = parse_limit(request.query)
    after = _position(decode_cursor(request.query, 2))
    try:
        groups = await request.app[SERVICE].page(user_id, after, limit)
    except AccountsNotKnown as exc:
        raise ApiError(503, exc.code, exc.message, exc.details, RETRY_SOON) from None
    next_position = _cursor_of(*groups[-1].position) if len(groups) == limit else None
    items = [
        NotificationGroup(
            id=g.id,
            kind=g.kind,
            post_id=g.post_id,
            count=g.count,
            sample_accounts=g.sample_accounts,
            first_at=g.first_at,
            last_at=g.last_at,
            read=g.read,
        )
        for g in groups
    ]
    return json_response(NotificationPage(**page(items, next_position)))


async def unread_count(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    return json_response(UnreadCount(await request.app[SERVICE].unread_count(user_id)))


async def mark_read(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    body = await read_body(request, ReadUpTo)
    if body.up_to.tzinfo is None:
        raise validation_error("$.up_to", "up_to needs an offset, e.g. Z")
    try:
        up_to = body.up_to.astimezone(UTC)
    except OverflowError:
        raise validation_error("$.up_to", "up_to is out of range once in UTC") from None
    await request.app[SERVICE].mark_read(user_id, up_to)
    return no_content()


ROUTES = (
    Route(
        "GET",
        "/v1/users/{user_id}/notifications",
        notifications,
        "A user's notifications, grouped, newest first",
        response=NotificationPage,
        params=(id_param("user_id"), LIMIT, FEED_CURSOR),
        errors=(400, 503),
    ),
    Route(
        "GET",
        "/v1/users/{user_id}/notifications/unread_count",
        unread_count,
        "Groups with events after the user's read mark",
        response=UnreadCount,
        params=(id_param("user_id"),),
        errors=(400,),
    ),
    Route(
        "POST",
        "/v1/users/{user_id}/notifications/read",
        mark_read,
        "Marks read every group whose last event is at or before up_to",
        status=204,
        body=ReadUpTo,
        params=(id_param("user_id"),),
        errors=(400,),
    ),
)
