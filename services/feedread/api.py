"""Feedread HTTP handlers (API.md "feedread"): feed pages and engagement events."""

from __future__ import annotations

import asyncio
import logging

import msgspec
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.feedread import domain
from services.feedread.store import FeedStore
from shared.auth import require_actor
from shared.errors import ApiError, validation_error
from shared.events import EngagementRecorded, FeedRebuildRequested
from shared.http import (
    CURSOR,
    LIMIT,
    Param,
    Route,
    id_param,
    json_response,
    path_id,
    principal,
    read_body,
)
from shared.pagination import decode_cursor, page, parse_limit
from shared.timeutil import rfc3339, utcnow
from shared.vocabulary import CATEGORIES

log = logging.getLogger(__name__)

STORE = web.AppKey("feedread_store", FeedStore)
PRODUCER = web.AppKey("feedread_producer", AIOKafkaProducer)


class FeedAccount(msgspec.Struct):
    id: str
    handle: str
    kind: str
    display_name: str
    category: str | None
    status: str


class FeedItem(msgspec.Struct):
    post: dict
    account: FeedAccount


class FeedPage(msgspec.Struct):
    items: list[FeedItem]
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
    result = await request.app[STORE].page(user_id, limit, cursor, category)
    if result.rebuild_needed:
        await request_rebuild(request.app[PRODUCER], user_id)
    position = result.next_position
    return json_response(
        page(
            [{"post": i.post, "account": i.account} for i in result.items],
            [position.score, position.post_id] if position else None,
        )
    )


async def request_rebuild(producer: AIOKafkaProducer, user_id: int) -> None:
    """Asks fanout to materialize a returning user's feed. The page was already served
    from timelines, so a failure here is logged, not shown; the user stays pending and
    is served from timelines until the rebuild lands."""
    event = FeedRebuildRequested(user_id=str(user_id), at=rfc3339(utcnow()))
    try:
        await producer.send(
            event.TOPIC.name, value=event.envelope().encode(), key=event.key().encode()
        )
    except Exception:
        log.warning("feed rebuild request not sent", extra={"user_id": user_id}, exc_info=True)


async def record_events(request: web.Request) -> web.Response:
    caller = principal(request)
    batch = await read_body(request, domain.EngagementBatch)
    try:
        domain.check_engagement(batch.events)
    except domain.InvalidEngagement as exc:
        raise ApiError(
            400,
            "validation_error",
            str(exc),
            {"field": f"$.events[{exc.index}].{exc.field}", "index": exc.index},
        ) from None
    for index, event in enumerate(batch.events):
        if not caller.may_act_for(int(event.user_id)):
            raise ApiError(
                403, "forbidden", "events may only be reported for oneself", {"index": index}
            )
    now = rfc3339(utcnow())
    producer = request.app[PRODUCER]
    try:
        sent = [
            await producer.send(
                EngagementRecorded.TOPIC.name,
                value=contract.envelope().encode(),
                key=contract.key().encode(),
            )
            for contract in (
                EngagementRecorded(
                    action=e.type,
                    user_id=e.user_id,
                    account_id=e.account_id,
                    post_id=e.post_id,
                    at=rfc3339(e.at) if e.at else now,
                    dwell_ms=e.dwell_ms,
                    order_id=e.order_id,
                    amount_cents=e.amount_cents,
                )
                for e in batch.events
            )
        ]
        await asyncio.wait_for(asyncio.gather(*sent), timeout=10)
    except (KafkaError, TimeoutError) as exc:
        raise ApiError(503, "unavailable", "events cannot be recorded right now") from exc
    return json_response({"accepted": len(batch.events)}, 202)


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
            CURSOR,
            Param("category", schema={"type": "string", "enum": list(CATEGORIES)}),
        ),
        errors=(400,),
    ),
    Route(
        "POST",
        "/v1/events",
        record_events,
        "Report engagement events (batch of up to 500)",
        status=202,
        body=domain.EngagementBatch,
        response=Accepted,
        errors=(503,),
    ),
)
