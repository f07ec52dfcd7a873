"""Feedread HTTP handlers (API.md "feedread"): feed pages and engagement events."""

from __future__ import annotations

import time

import msgspec
from aiohttp import web
from redis.exceptions import RedisError

from services.feedread import domain
from services.feedread.bodies import raw_json
from services.feedread.impressions import ServedPages
from services.feedread.service import Feedread
from shared.accounts import AccountView
from shared.auth import require_actor
from shared.errors import ApiError, validation_error
from shared.pagination import decode_cursor, page, parse_limit
from shared.posts import PostView
from shared.timeutil import utcnow
from shared.vocabulary import CATEGORIES
from shared.web import (
    FEED_CURSOR,
    LIMIT,
    Param,
    Route,
    id_param,
    json_response,
    path_id,
    principal,
    read_body,
)

READER = web.AppKey("feedread", Feedread)
# What each page served, sent to insights off the request path (impressions, reach).
SERVED_PAGES = web.AppKey("feedread_served_pages", ServedPages)


class FeedItem(msgspec.Struct):
    post: PostView
    account: AccountView


class FeedPage(msgspec.Struct):
    items: list[FeedItem]
    next_cursor: str | None


class _ServedItem(msgspec.Struct):
    """A FeedItem as served: its post and account already encoded (services.feedread.bodies)."""

    post: msgspec.Raw
    account: msgspec.Raw


class _ServedPage(msgspec.Struct):
    """A FeedPage as served (the same JSON, from pre-encoded items)."""

    items: list[_ServedItem]
    next_cursor: str | None


class Accepted(msgspec.Struct):
    accepted: int


async def feed(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    limit = parse_limit(request.query)
    raw_cursor = decode_cursor(request.query, 2)
    cursor = domain.Position(*raw_cursor) if raw_cursor else None
    category = request.query.get("category")
    if category is not None and category not in CATEGORIES:
        raise validation_error("category", f"category must be one of {', '.join(CATEGORIES)}")
    reader = request.app[READER]
    try:
        await reader.wait_for_reader(user_id, int(time.time() * 1000))
    except domain.ReaderNotReady as exc:
        raise ApiError(503, exc.code, exc.message, headers={"Retry-After": "1"}) from None
    result = await reader.page(user_id, limit, cursor, category)
    request.app[SERVED_PAGES].record(user_id, result.items)
    position = result.next_position
    # The shape /openapi.json documents (FeedPage), assembled from bodies encoded once.
    items = [_ServedItem(raw_json(item.post), raw_json(item.account)) for item in result.items]
    next_position = [position.score, position.post_id] if position else None
    return json_response(_ServedPage(**page(items, next_position)))


async def record_events(request: web.Request) -> web.Response:
    """Reports a batch of engagement events (API.md); domain refusals become 4xx/503."""
    caller = principal(request)
    batch = await read_body(request, domain.EngagementBatch)
    try:
        await request.app[READER].record_events(caller, batch.events, utcnow())
    except domain.InvalidEngagement as exc:
        raise ApiError(
            400,
            "validation_error",
            str(exc),
            {"field": f"$.events[{exc.index}].{exc.field}", "index": exc.index},
        ) from None
    except domain.RateLimited as exc:
        seconds = exc.details["retry_after_s"]
        raise ApiError(
            429, exc.code, exc.message, exc.details, {"Retry-After": str(seconds)}
        ) from None
    except (domain.ReportRefused, domain.EventsNotSent) as exc:
        status = 403 if isinstance(exc, domain.ReportRefused) else 503
        raise ApiError(status, exc.code, exc.message, exc.details or None) from exc
    except RedisError as exc:
        raise ApiError(503, "unavailable", "events cannot be recorded right now") from exc
    return json_response(msgspec.to_builtins(Accepted(accepted=len(batch.events))), 202)


ROUTES = (
    Route(
        "GET",
        "/v1/users/{user_id}/feed",
        feed,
        "A user's feed, newest first",
        response=FeedPage,
        params=(
            id_param("user_id"),
            LIMIT,
            FEED_CURSOR,
            Param("category", schema={"type": "string", "enum": list(CATEGORIES)}),
        ),
        errors=(400, 503),
    ),
    Route(
        "POST",
        "/v1/events",
        record_events,
        "Report engagement events (batch of up to 500)",
        status=202,
        body=domain.EngagementBatch,
        response=Accepted,
        errors=(429, 503),
    ),
)
