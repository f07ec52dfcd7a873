"""Feedread HTTP handlers (API.md "feedread"): feed pages and engagement events."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

import msgspec
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from services.feedread import domain
from services.feedread.engagement import EngagementStore
from services.feedread.store import FeedStore
from shared.auth import require_actor
from shared.errors import ApiError, validation_error
from shared.events import EngagementRecorded, FeedRebuildRequested
from shared.kafka import send
from shared.pagination import decode_cursor, page, parse_limit
from shared.timeutil import rfc3339, utcnow
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

log = logging.getLogger(__name__)

STORE = web.AppKey("feedread_store", FeedStore)
PRODUCER = web.AppKey("feedread_producer", AIOKafkaProducer)
ENGAGEMENT = web.AppKey("feedread_engagement", EngagementStore)
SEND_DEADLINE_S = 10.0  # a batch not acknowledged by then is a 503 the caller retries


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
        await send(producer, event)
    except Exception:
        log.warning("feed rebuild request not sent", extra={"user_id": user_id}, exc_info=True)


async def record_events(request: web.Request) -> web.Response:
    """Checks a batch (API.md), charges it to the caller's rate limit, counts each
    purchase's order once, and sends the events to insights."""
    caller = principal(request)
    batch = await read_body(request, domain.EngagementBatch)
    engagement = request.app[ENGAGEMENT]
    if caller.role not in domain.EVENTS_PER_MINUTE:
        raise ApiError(403, "forbidden", "events are reported by users and services")
    now = utcnow()
    try:
        domain.check_engagement(batch.events, now)
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
    try:
        retry_after_s = await engagement.charge(
            caller.role,
            caller.sub,
            len(batch.events),
            domain.EVENTS_PER_MINUTE[caller.role],
            domain.RATE_WINDOW_S,
        )
        if retry_after_s:
            raise rate_limited(retry_after_s)
        await send_counting_orders_once(request.app[PRODUCER], engagement, batch.events, now)
    except RedisError as exc:
        raise ApiError(503, "unavailable", "events cannot be recorded right now") from exc
    return json_response({"accepted": len(batch.events)}, 202)


def rate_limited(retry_after_s: int) -> ApiError:
    """429 rate_limited, saying in the body and in Retry-After when to try again."""
    return ApiError(
        429,
        "rate_limited",
        "too many events reported",
        {"retry_after_s": retry_after_s},
        {"Retry-After": str(retry_after_s)},
    )


async def send_counting_orders_once(
    producer: AIOKafkaProducer,
    engagement: EngagementStore,
    events: list[domain.Engagement],
    now: datetime,
) -> None:
    """Sends the events; a purchase only when this request is the first to count its
    order. Claims are taken before sending and given back for what was not sent, so a
    retried batch counts those and no others; 503 when anything was not sent."""
    claimant = uuid.uuid4().hex
    orders = [e.order_id for e in events if e.order_id is not None]
    counts = iter(await engagement.claim_orders(orders, claimant))
    to_send = [e for e in events if e.order_id is None or next(counts)]
    delivered = await send_all(producer, [recorded(e, now) for e in to_send])
    unsent = [e for e, ok in zip(to_send, delivered, strict=True) if not ok]
    if unsent:
        await engagement.release_orders(
            [e.order_id for e in unsent if e.order_id is not None], claimant
        )
        raise ApiError(503, "unavailable", "events cannot be recorded right now")


def recorded(event: domain.Engagement, now: datetime) -> EngagementRecorded:
    return EngagementRecorded(
        action=event.type,
        user_id=event.user_id,
        account_id=event.account_id,
        post_id=event.post_id,
        at=rfc3339(event.at or now),
        dwell_ms=event.dwell_ms,
        order_id=event.order_id,
        amount_cents=event.amount_cents,
    )


async def send_all(producer: AIOKafkaProducer, contracts: list[EngagementRecorded]) -> list[bool]:
    """Sends every event; for each, whether Kafka acknowledged it within the deadline
    (one not acknowledged may still arrive: the order id it carries lets insights tell)."""
    futures: list[asyncio.Future] = []
    try:
        for contract in contracts:
            futures.append(await send(producer, contract))
    except KafkaError:
        log.warning("engagement events not sent", exc_info=True)
    if futures:
        await asyncio.wait(futures, timeout=SEND_DEADLINE_S)
    acknowledged = [f.done() and not f.cancelled() and f.exception() is None for f in futures]
    return acknowledged + [False] * (len(contracts) - len(futures))


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
        errors=(429, 503),
    ),
)
