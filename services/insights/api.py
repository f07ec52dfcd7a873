"""Insights HTTP handlers (API.md "insights"), thin over the use cases (service.Reads):
operator stats per day and per post, official and associated recommendations, flagged
followers."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from services.insights import domain
from services.insights.service import Reads
from shared.accounts import AccountView
from shared.errors import DomainError, validation_error
from shared.ids import parse_decimal, parse_id
from shared.pagination import decode_cursor, page, parse_limit
from shared.timeutil import utcnow
from shared.vocabulary import CATEGORIES
from shared.web import (
    FEED_CURSOR,
    ID_PATTERN,
    LIMIT,
    Param,
    Route,
    id_param,
    json_response,
    path_id,
    principal,
)

READS = web.AppKey("insights_reads", Reads)

ERROR_STATUSES: dict[type[DomainError], int] = {
    domain.UnknownAccount: 404,
    domain.UnknownPost: 404,
}
DEFAULT_DAYS = 7


class SourceCounts(msgspec.Struct):
    api: int
    qr: int
    recommendation: int


class StatsDay(msgspec.Struct):
    date: str
    followers_total: int
    followers_gained: int
    followers_gained_by_source: SourceCounts
    followers_lost: int
    posts: int
    impressions: int
    reach: int
    views: int
    unique_visitors: int
    revisit_rate: float
    avg_dwell_ms: int
    clicks: int
    favorites: int
    purchases: int
    gmv_cents: int
    conversion_rate: float
    suspicious_followers: int


class StatsDays(msgspec.Struct):
    items: list[StatsDay]


class PostStats(msgspec.Struct):
    impressions: int
    reach: int
    views: int
    clicks: int
    purchases: int
    gmv_cents: int
    likes: int
    comments: int
    votes: int


class Component(msgspec.Struct):
    raw: float | None
    shrunk: float
    percentile: float
    weight: float


class OfficialItem(msgspec.Struct):
    account: AccountView
    score: float
    components: dict[str, Component]


class OfficialList(msgspec.Struct):
    items: list[OfficialItem]


class AssociatedItem(msgspec.Struct):
    account: AccountView
    because: str
    related_to: str


class AssociatedList(msgspec.Struct):
    items: list[AssociatedItem]


class Flagged(msgspec.Struct):
    account_id: str
    user_id: str
    followed_at: str
    evidence: dict[str, Any]


class FlaggedPage(msgspec.Struct):
    items: list[Flagged]
    next_cursor: str | None


def _days(query: Any) -> int:
    raw = query.get("days")
    if raw is None:
        return DEFAULT_DAYS
    days = parse_decimal(raw, 1, domain.MAX_DAYS)
    if days is None:
        raise validation_error("days", f"days must be an integer from 1 to {domain.MAX_DAYS}")
    return days


def _category(query: Any) -> str | None:
    category = query.get("category")
    if category is not None and category not in CATEGORIES:
        raise validation_error("category", f"category must be one of {', '.join(CATEGORIES)}")
    return category


async def account_stats(request: web.Request) -> web.Response:
    account_id = path_id(request, "id")
    caller = principal(request)
    days = _days(request.query)
    today = domain.shanghai_day(utcnow())
    rows = await request.app[READS].account_stats(caller, account_id, days, today)
    return json_response({"items": rows})


async def post_stats(request: web.Request) -> web.Response:
    post_id = path_id(request, "id")
    return json_response(await request.app[READS].post_stats(principal(request), post_id))


async def official(request: web.Request) -> web.Response:
    limit = parse_limit(request.query)
    category = _category(request.query)
    items = await request.app[READS].official(principal(request), category, limit)
    return json_response({"items": items})


async def user_recommendations(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    limit = parse_limit(request.query)
    items = await request.app[READS].associated(principal(request), user_id, limit)
    return json_response({"items": items})


async def suspicious(request: web.Request) -> web.Response:
    caller = principal(request)
    raw_account = request.query.get("account_id")
    account_id = None
    if raw_account is not None:
        account_id = parse_id(raw_account)
        if account_id is None:
            raise validation_error("account_id", "account_id must be a canonical decimal id")
    limit = parse_limit(request.query)
    after = decode_cursor(request.query, 2)
    items, position = await request.app[READS].suspicious(caller, account_id, after, limit)
    return json_response(page(items, position))


CATEGORY = Param("category", schema={"type": "string", "enum": list(CATEGORIES)})

ROUTES = (
    Route(
        "GET",
        "/v1/accounts/{id}/stats",
        account_stats,
        "An account's operator data per Asia/Shanghai day, oldest first",
        response=StatsDays,
        params=(
            id_param("id"),
            Param("days", schema={"type": "integer", "minimum": 1, "maximum": domain.MAX_DAYS}),
        ),
        errors=(400, 404, 503),
    ),
    Route(
        "GET",
        "/v1/posts/{id}/stats",
        post_stats,
        "A post's engagement and interaction totals",
        response=PostStats,
        params=(id_param("id"),),
        errors=(400, 404, 503),
    ),
    Route(
        "GET",
        "/v1/recommendations/official",
        official,
        "Official recommendation: accounts ranked by their recent user activity",
        response=OfficialList,
        params=(LIMIT, CATEGORY),
        errors=(400,),
    ),
    Route(
        "GET",
        "/v1/users/{user_id}/recommendations",
        user_recommendations,
        "Associated recommendation: accounts related to the user's sellers and follows",
        response=AssociatedList,
        params=(id_param("user_id"), LIMIT),
        errors=(400,),
    ),
    Route(
        "GET",
        "/v1/admin/suspicious",
        suspicious,
        "Followers flagged as bought (刷粉), with the evidence",
        response=FlaggedPage,
        params=(Param("account_id", schema=ID_PATTERN), LIMIT, FEED_CURSOR),
        errors=(400,),
    ),
)
